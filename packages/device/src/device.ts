import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, writeSync, constants } from 'node:fs';
import type { ByteSource } from '@fsconv/ext2fs-reader';

/** A device or image that cannot be opened or read; the message names the path. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
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
  /** Block devices: O_EXCL, so the kernel refuses a device that is mounted or held by another user. */
  exclusive?: boolean;
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
      if (st.isBlockDevice()) return new Device(path, fd, blockDeviceSize(st.rdev, path), true);
      if (st.isFile()) return new Device(path, fd, st.size, false);
      throw new DeviceError(`${path} is neither a regular file nor a block device`);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * Creates (or truncates) an image file of `size` bytes, all zeros (sparse where the filesystem
   * allows), opened for reading and writing.
   */
  static create(path: string, size: number): Device {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o644);
      ftruncateSync(fd, size);
    } catch (e) {
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
        throw new DeviceError(`${this.path}: write error at byte ${position + done}: ${(e as Error).message}`);
      }
    }
  }

  /** Makes the writes so far durable. */
  flush(): void {
    fsyncSync(this.fd);
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
