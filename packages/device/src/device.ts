import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, unlinkSync, writeSync, constants } from 'node:fs';
import type { ByteSource } from '@fsconv/base';
import { lockForWriting } from './lock.js';

/** udev holds a shared flock on a block device for a moment while it probes one that has just appeared. */
const BLOCK_LOCK_RETRY_MS = 3000;

/** A device or image that cannot be opened or read; the message names the path. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  /** The system error code behind it, when there is one ('ENOSPC', 'EIO', …). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** Linux dev_t → (major, minor), glibc's encoding. */
export function splitDevT(rdev: number): [major: number, minor: number] {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return [((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), (lo & 0xff) | ((lo >>> 12) & 0xffffff00)];
}

/** A block device's size in bytes, from sysfs (in 512-byte sectors): no ioctl needed. */
export function blockDeviceSize(rdev: number, path: string): number {
  const [major, minor] = splitDevT(rdev);
  const sysfs = `/sys/dev/block/${major}:${minor}/size`;
  let text: string;
  try {
    text = readFileSync(sysfs, 'utf8');
  } catch (e) {
    throw new DeviceError(`${path}: cannot read the device size from ${sysfs} (${(e as Error).message})`);
  }
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors) || sectors < 0) throw new DeviceError(`${path}: ${sysfs} holds no size`);
  return sectors * 512;
}

export interface OpenOptions {
  /** Open for writing too (only conversion does). */
  write?: boolean;
  /**
   * With `write`: refuse what another program is using, and keep it from starting to, for as long
   * as the device stays open. A block device is opened with O_EXCL (the kernel refuses one that is
   * mounted or held by another user) and flock'ed (LOCK_EX, udev's "do not probe"); a regular file
   * gets a flock and an OFD write lock over the whole file (what QEMU holds on a running VM's
   * image). See lock.ts.
   */
  exclusive?: boolean;
  /**
   * With `write`, without `exclusive`: the lock alone (flock), no O_EXCL. For the disk holding a
   * partition being converted: the kernel lets no one claim a disk while one of its partitions is
   * claimed, and the flock still keeps udev from probing it while its table is written.
   */
  lock?: boolean;
}

/**
 * An image file or block device opened for positional reads (and writes, when asked).
 * Read commands open read-only, so they cannot change the device even by mistake.
 */
export class Device implements ByteSource {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly size: number,
    readonly isBlockDevice: boolean,
  ) {}

  static open(path: string, options: OpenOptions = {}): Device {
    let fd: number;
    try {
      fd = openSync(path, options.write ? constants.O_RDWR : constants.O_RDONLY);
      if (options.exclusive && fstatSync(fd).isBlockDevice()) {
        closeSync(fd);
        fd = openSync(path, (options.write ? constants.O_RDWR : constants.O_RDONLY) | constants.O_EXCL);
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file or device' : err.code === 'EACCES' ? 'permission denied'
        : err.code === 'EBUSY' ? 'the device is busy (mounted or in use)' : err.message;
      throw new DeviceError(`cannot open ${path}: ${why}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isBlockDevice() && !st.isFile()) throw new DeviceError(`${path} is neither a regular file nor a block device`);
      // The locks come before the size: a file's size is only known once nobody else writes it.
      if (options.write && (options.exclusive || options.lock)) lockForWriting(fd, path, st.isBlockDevice(), { retryMs: st.isBlockDevice() ? BLOCK_LOCK_RETRY_MS : 0 });
      if (st.isBlockDevice()) return new Device(path, fd, blockDeviceSize(st.rdev, path), true);
      return new Device(path, fd, fstatSync(fd).size, false);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * Creates a new image file of `size` bytes, all zeros (sparse where the filesystem allows),
   * opened for reading and writing. Refused when anything is at `path` already (O_EXCL: never
   * truncates a file, never follows a symlink). A file whose size cannot be set is removed again.
   */
  static create(path: string, size: number): Device {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new DeviceError(`cannot create ${path}: ${err.code === 'EEXIST' ? 'it exists already' : err.message}`);
    }
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        /* it was ours; nothing more to do */
      }
      throw new DeviceError(`cannot create ${path}: ${(e as Error).message}`);
    }
    return new Device(path, fd, size, false);
  }

  /** Writes all of `data` at `position` (within the device). */
  writeAt(data: Uint8Array, position: number): void {
    if (position < 0 || position + data.length > this.size) {
      throw new DeviceError(`${this.path}: write of ${data.length} bytes at ${position} is past the end (${this.size} bytes)`);
    }
    let done = 0;
    while (done < data.length) {
      try {
        done += writeSync(this.fd, data, done, data.length - done, position + done);
      } catch (e) {
        throw new DeviceError(`${this.path}: write error at byte ${position + done}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);
      }
    }
  }

  /** Makes the writes so far durable. */
  flush(): void {
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw new DeviceError(`${this.path}: cannot flush the writes to the device: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);
    }
  }

  readInto(target: Uint8Array, position: number): void {
    let done = 0;
    while (done < target.length) {
      let n: number;
      try {
        n = readSync(this.fd, target, done, target.length - done, position + done);
      } catch (e) {
        throw new DeviceError(`${this.path}: read error at byte ${position + done}: ${(e as Error).message}`);
      }
      if (n === 0) throw new DeviceError(`${this.path}: unexpected end of device at byte ${position + done}`);
      done += n;
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
