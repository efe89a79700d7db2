import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { fileTypeOfMode, decodeName, type SourceNode, type SourceTree, type Timestamp } from '@fsconv/base';

const NS = 1_000_000_000n;
function timestamp(ns: bigint): Timestamp {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** glibc's dev_t split. */
function splitDev(dev: bigint): [number, number] {
  return [Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)), Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn))];
}

/**
 * A host directory tree as a SourceTree (what QEMU's vvfat presents as a disk): metadata from lstat,
 * names as raw bytes, children sorted by their bytes so the same tree always gives the same image.
 * Symlinks are not followed.
 */
export class DirectorySource implements SourceTree {
  readonly kind = 'directory';
  readonly label = null;
  readonly volumeId = null;
  private readonly hostPaths = new WeakMap<SourceNode, Buffer>();
  private readonly linkIds = new Map<string, number>();
  /** Listings are read once: a conversion reads the tree twice (measure, write) and must see it the same. */
  private readonly listings = new Map<SourceNode, SourceNode[]>();
  private rootNode: SourceNode | null = null;
  private open: { node: SourceNode; fd: number } | null = null;

  constructor(private readonly rootPath: string) {}

  root(): SourceNode {
    this.rootNode ??= this.node(Buffer.from(this.rootPath), new Uint8Array(0), '/');
    return this.rootNode;
  }

  children(dir: SourceNode): SourceNode[] {
    const cached = this.listings.get(dir);
    if (cached !== undefined) return cached;
    const listing = this.list(dir);
    this.listings.set(dir, listing);
    return listing;
  }

  private list(dir: SourceNode): SourceNode[] {
    const base = this.hostPaths.get(dir)!;
    const names = readdirSync(base, { encoding: 'buffer' }).sort(Buffer.compare);
    return names.map((name) => {
      const display = dir.path === '/' ? `/${decodeName(name)}` : `${dir.path}/${decodeName(name)}`;
      return this.node(Buffer.concat([base, Buffer.from('/'), name]), new Uint8Array(name), display);
    });
  }

  readFile(node: SourceNode, offset: number, into: Uint8Array): void {
    if (node.type === 'symlink') {
      into.set(node.target!.subarray(offset, offset + into.length));
      return;
    }
    if (this.open?.node !== node) {
      this.close();
      this.open = { node, fd: openNoAtime(this.hostPaths.get(node)!) };
    }
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.open.fd, into, done, into.length - done, offset + done);
      if (n === 0) {
        // The file shrank while we read it: what is missing reads as zeros, and the caller's size stands.
        into.fill(0, done);
        break;
      }
      done += n;
    }
  }

  close(): void {
    if (this.open) closeSync(this.open.fd);
    this.open = null;
  }

  private node(hostPath: Buffer, name: Uint8Array, path: string): SourceNode {
    const st: BigIntStats = lstatSync(hostPath, { bigint: true });
    const mode = Number(st.mode);
    const type = fileTypeOfMode(mode);
    if (type === undefined) throw new Error(`${path}: unknown file type (mode 0o${mode.toString(8)})`);
    const key = `${st.dev}:${st.ino}`;
    let linkId = this.linkIds.get(key);
    if (linkId === undefined) {
      linkId = this.linkIds.size + 1;
      this.linkIds.set(key, linkId);
    }
    const n: SourceNode = {
      linkId, name, path, type, mode, uid: Number(st.uid), gid: Number(st.gid),
      atime: timestamp(st.atimeNs), mtime: timestamp(st.mtimeNs), ctime: timestamp(st.ctimeNs),
      nlink: Number(st.nlink), size: 0,
    };
    if (type === 'file') n.size = Number(st.size);
    if (type === 'symlink') {
      n.target = new Uint8Array(readlinkSync(hostPath, { encoding: 'buffer' }));
      n.size = n.target.length;
    }
    if (type === 'char' || type === 'block') n.rdev = splitDev(st.rdev);
    this.hostPaths.set(n, hostPath);
    return n;
  }
}

/** Opens for reading without touching the file's atime where allowed (owner or root), else plainly. */
function openNoAtime(path: Buffer): number {
  const noAtime = (constants as { O_NOATIME?: number }).O_NOATIME ?? 0;
  if (noAtime !== 0) {
    try {
      return openSync(path, constants.O_RDONLY | noAtime);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }
  return openSync(path, constants.O_RDONLY);
}
