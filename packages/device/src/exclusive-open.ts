/**
 * Opening a device or image for writing, exclusively: O_EXCL for a block device (the kernel's own
 * in-use check) plus the locks of lock.ts, with one-line messages for every refusal.
 */
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import { DeviceError } from './device.js';
import { lockForWriting } from './lock.js';

/**
 * Opens `path` for reading and writing. A block device is opened with O_EXCL, so the kernel
 * refuses it (EBUSY) while it is mounted or held by another exclusive user (a mount, swap,
 * device-mapper, RAID, another O_EXCL opener, or a mounted partition of it), in any mount namespace;
 * while the fd stays open, the device cannot be mounted either. Both also get the locks of lock.ts
 * (flock, and for a regular file an OFD write lock), refused when another program holds them.
 * Throws a DeviceError with a one-line message naming the device.
 */
export function openExclusive(path: string): number {
  for (let attempt = 0; attempt < 2; attempt++) {
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      throw openError(path, e);
    }
    const block = st.isBlockDevice();
    if (!block && !st.isFile()) throw new DeviceError(`${path} is neither a regular file nor a block device`);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | (block ? constants.O_EXCL : 0));
    } catch (e) {
      throw openError(path, e);
    }
    let opened;
    try {
      opened = fstatSync(fd);
    } catch (e) {
      closeSync(fd);
      throw openError(path, e);
    }
    if (opened.isBlockDevice() === block && (block || opened.isFile())) {
      try {
        lockForWriting(fd, path, block, { retryMs: block ? 3000 : 0 });
      } catch (e) {
        closeSync(fd);
        throw e;
      }
      return fd;
    }
    // The path was replaced between stat and open: look again.
    closeSync(fd);
  }
  throw new DeviceError(`cannot open ${path}: it keeps changing between a regular file and a device`);
}

function openError(path: string, e: unknown): DeviceError {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EBUSY':
      return new DeviceError(`${path} is in use (mounted, used as swap, or held by another program or device): unmount or release it first`);
    case 'ENOENT':
      return new DeviceError(`cannot open ${path}: no such file or device`);
    case 'EACCES':
    case 'EPERM':
      return new DeviceError(`cannot open ${path} for writing: permission denied`);
    case 'EROFS':
      return new DeviceError(`cannot open ${path} for writing: it is read-only`);
    case 'ENXIO':
    case 'ENODEV':
      return new DeviceError(`cannot open ${path}: no such device (is the medium present?)`);
    default:
      return new DeviceError(`cannot open ${path}: ${err.message}`);
  }
}
