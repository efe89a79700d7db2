// Tests of the test support layer itself: trees build, images are clean, and the two reference
// views (kernel mount and debugfs) agree with each other and with the tree they came from.
import { createHash } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertE2fsckClean, e2fsckCheck, encodeExtraTime, makeExt2Image } from './ext2-image.js';
import {
  checkLsEntry, decodeName, formatLsJsonLines, parseLsJsonLines, sortEntries, type LsEntry,
} from './ls-entry.js';
import {
  debugfsStat, debugfsView, imageBlockMap, kernelView, readGeometry, referenceView, splitDev, floorSeconds,
  type View,
} from './reference-view.js';
import { sha256File } from './fsconv.js';
import { INSTALL_HINT, requireTool, run } from './run.js';
import { buildSmallTree, buildTree, type TreeFacts } from './trees.js';

let work: string;

/**
 * The support functions are synchronous and some run for many seconds: yield between them so the
 * vitest worker can answer its RPCs (else: "Timeout calling onTaskUpdate").
 */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

beforeAll(() => {
  for (const tool of ['mke2fs', 'e2fsck', 'debugfs', 'mount', 'umount', 'mknod', 'mkfifo', 'touch']) requireTool(tool);
  work = mkdtempSync(join(tmpdir(), 'fsconv-support-'));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function byPath(v: View): Map<string, LsEntry> {
  return new Map(v.entries.map((e) => [e.path, e]));
}

function hostSha256(root: string, path: string): string {
  // O_NOATIME: reading must not change the atimes the tree was built with.
  const fd = openSync(Buffer.concat([Buffer.from(root), rawPath(path)]), constants.O_RDONLY | constants.O_NOATIME);
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(4 << 20);
    let n: number;
    while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a host sparse file from its known data ranges (zeros elsewhere): no reading of holes. */
function sparseSha256(root: string, fact: TreeFacts['sparse'][number]): string {
  const fd = openSync(Buffer.concat([Buffer.from(root), rawPath(fact.path)]), constants.O_RDONLY | constants.O_NOATIME);
  try {
    const h = createHash('sha256');
    const zeros = Buffer.alloc(4 << 20);
    let pos = 0;
    const zerosUntil = (end: number): void => {
      while (pos < end) {
        const k = Math.min(end - pos, zeros.length);
        h.update(zeros.subarray(0, k));
        pos += k;
      }
    };
    for (const [a, b] of fact.data) {
      zerosUntil(a);
      const buf = Buffer.alloc(b - a);
      expect(readSync(fd, buf, 0, buf.length, a)).toBe(buf.length);
      h.update(buf);
      pos = b;
    }
    zerosUntil(fact.size);
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}


let rawByPath = new Map<string, Buffer>();
function rawPath(path: string): Buffer {
  // Decoded paths of raw (non-UTF-8) names map back to their bytes through the tree facts.
  return rawByPath.get(path) ?? Buffer.from(path, 'utf8');
}

/** Both views agree on every field and every file hash. */
function expectViewsAgree(kernel: View, debugfs: View): void {
  expect(debugfs.entries.length).toBe(kernel.entries.length);
  const k = byPath(kernel);
  for (const d of debugfs.entries) expect({ path: d.path, entry: d }).toEqual({ path: d.path, entry: k.get(d.path) });
  expect(debugfs.entries).toEqual(kernel.entries);
  expect(new Map([...debugfs.fileSha256].sort())).toEqual(new Map([...kernel.fileSha256].sort()));
}

/** The image shows what the tree holds (checked on the kernel view). */
function expectViewMatchesTree(view: View, facts: TreeFacts, hostHashes: Map<string, string>, image: string): void {
  const m = byPath(view);
  for (const p of facts.paths) expect(m.has(p), `${p} missing from the image`).toBe(true);
  expect(m.get('/lost+found')?.type).toBe('dir');
  expect(view.entries.length).toBe(new Set(facts.paths).size + 1);
  for (const e of view.entries) expect(checkLsEntry(e)).toBeUndefined();

  for (const [path, t] of facts.times) {
    const e = m.get(path)!;
    expect({ path, atime: e.atime, mtime: e.mtime }).toEqual({ path, atime: t.atime.sec, mtime: t.mtime.sec });
  }
  for (const o of facts.owners) expect({ p: o.path, uid: m.get(o.path)!.uid, gid: m.get(o.path)!.gid }).toEqual({ p: o.path, uid: o.uid, gid: o.gid });
  for (const o of facts.modes) expect({ p: o.path, perm: m.get(o.path)!.mode & 0o7777 }).toEqual({ p: o.path, perm: o.perm });
  for (const s of facts.symlinks) expect({ p: s.path, t: m.get(s.path)!.target }).toEqual({ p: s.path, t: s.target });
  for (const d of facts.devices) expect({ p: d.path, type: m.get(d.path)!.type, rdev: m.get(d.path)!.rdev }).toEqual({ p: d.path, type: d.type, rdev: [d.major, d.minor] });
  for (const p of facts.fifos) expect(m.get(p)!.type).toBe('fifo');
  for (const p of facts.sockets) expect(m.get(p)!.type).toBe('socket');
  for (const f of facts.boundaryFiles) expect(m.get(f.path)!.size).toBe(f.size);
  const links = facts.hardLinks.map((p) => m.get(p)!);
  expect(new Set(links.map((e) => e.ino)).size).toBe(1);
  for (const e of links) expect(e.nlink).toBe(facts.hardLinks.length);
  for (const r of facts.rawNames) expect(r.path).toContain('\uFFFD');
  for (const [path, h] of hostHashes) expect({ path, h: view.fileSha256.get(path) }).toEqual({ path, h });

  // Holes survive: the mapped blocks are exactly the blocks that hold data.
  const bs = readGeometry(image).blockSize;
  for (const s of facts.sparse) {
    const e = m.get(s.path)!;
    expect(e.size).toBe(s.size);
    const mapped = new Set<number>();
    for (const r of imageBlockMap(image, e.ino).data) for (let i = 0; i < r.count; i++) mapped.add(r.logical + i);
    const expected = new Set<number>();
    for (const [a, b] of s.data) for (let blk = Math.floor(a / bs); blk <= Math.floor((b - 1) / bs); blk++) expected.add(blk);
    expect({ path: s.path, mapped: [...mapped].sort((x, y) => x - y) }).toEqual({ path: s.path, mapped: [...expected].sort((x, y) => x - y) });
  }
  if (facts.tindFile !== undefined) {
    const map = imageBlockMap(image, m.get(facts.tindFile)!.ino);
    expect(map.meta.map((x) => x.level)).toContain('TIND');
  }
}

describe('ls-entry', () => {
  it('decodes names like the WHATWG UTF-8 decoder', () => {
    expect(decodeName(Buffer.from('café', 'utf8'))).toBe('café');
    expect(decodeName(Buffer.from('caf\xe9', 'latin1'))).toBe('caf\uFFFD');
    expect(decodeName(Buffer.from('trunc\xe6\x97', 'latin1'))).toBe('trunc\uFFFD');
    expect(decodeName(Buffer.from('\xef\xbb\xbfbom', 'latin1'))).toBe('\uFEFFbom');
    expect(decodeName(Buffer.from('🎉', 'utf8'))).toBe('🎉');
  });

  it('sorts, formats and parses entries', () => {
    const base = { type: 'file', mode: 0o100644, uid: 0, gid: 0, atime: 0, mtime: 0, ctime: 0, nlink: 1, size: 0 } as const;
    const es: LsEntry[] = [
      { ...base, path: '/a b', ino: 3 },
      { ...base, path: '/a/x', ino: 4 },
      { path: '/a', type: 'dir', mode: 0o40755, uid: 0, gid: 0, atime: -1, mtime: 0, ctime: 0, nlink: 2, ino: 2 },
    ];
    expect(sortEntries(es).map((e) => e.path)).toEqual(['/a', '/a/x', '/a b']);
    const text = formatLsJsonLines(sortEntries(es));
    expect(parseLsJsonLines(text)).toEqual(sortEntries(es));
    expect(() => parseLsJsonLines('{"path":"/x","type":"file","mode":33188}')).toThrow(/integer/);
    expect(checkLsEntry({ ...base, path: '/x', ino: 1, target: null })).toMatch(/null/);
  });

  it('computes floors and device numbers', () => {
    expect(floorSeconds(-1_500_000_000n)).toBe(-2);
    expect(floorSeconds(-2_000_000_000n)).toBe(-2);
    expect(floorSeconds(1_999_999_999n)).toBe(1);
    expect(splitDev(BigInt((259 << 8) | (70000 & 0xff) | ((70000 & ~0xff) << 12)))).toEqual([259, 70000]);
    expect(encodeExtraTime(4102444800n, 0n)).toEqual({ lo: 0xf4865700, extra: 1 });
    expect(encodeExtraTime(-2n, 500000000n)).toEqual({ lo: 0xfffffffe, extra: 500000000 * 4 });
  });
});

describe('run', () => {
  it('names the install command when a tool is missing', () => {
    expect(() => requireTool('fsconv-no-such-tool')).toThrow(INSTALL_HINT);
  });
  it('reports stderr of failing commands', () => {
    expect(() => run('e2fsck', ['-fn', '/nonexistent-image'])).toThrow(/status 8[\s\S]*nonexistent-image/);
  });
});

describe('small tree', () => {
  it('builds, images, and both views agree', () => {
    const src = join(work, 'small');
    const facts = buildSmallTree(src);
    expect(facts.paths.length).toBeGreaterThanOrEqual(12);
    rawByPath = new Map(facts.rawNames.map((r) => [r.path, Buffer.from(`/${r.raw.toString('latin1')}`, 'latin1')]));
    const files = ['/hello.txt', '/empty', '/random.bin', '/sub/nested.txt', '/sub/hello-again.txt', '/héllo wörld.txt', '/sparse'];
    const hashes = new Map([...files, facts.rawNames[0]!.path].map((p) => [p, hostSha256(src, p)] as const));
    const image = makeExt2Image({ src, out: join(work, 'small.img'), blockSize: 1024, inodeSize: 128, label: 'small' });
    const ref = referenceView(image);
    expect(ref.source).toBe('kernel');
    const dbg = debugfsView(image);
    expectViewsAgree(ref, dbg);
    expectViewMatchesTree(ref, facts, hashes, image);

    // Reproducible with a fixed time, UUID and hash seed (ctimes included).
    const fixed = { src, blockSize: 1024, inodeSize: 256, fakeTime: 1700000000, uuid: '5a3c7e10-2b4d-4f6a-8c9e-0123456789ab', extended: 'hash_seed=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' } as const;
    const a = makeExt2Image({ ...fixed, out: join(work, 'fixed-a.img') });
    const b = makeExt2Image({ ...fixed, out: join(work, 'fixed-b.img') });
    expect(sha256File(a)).toBe(sha256File(b));
    expect(new Set(kernelView(a).entries.map((e) => e.ctime))).toEqual(new Set([1700000000]));

    // 64 KiB blocks: the kernel refuses the mount, referenceView falls back to debugfs.
    const big = makeExt2Image({ src, out: join(work, 'small-64k.img'), blockSize: 65536, inodeSize: 256 });
    const ref64 = referenceView(big);
    expect(ref64.source).toBe('debugfs');
    expect(ref64.kernelError).toMatch(/mount/);
    expectViewMatchesTree(ref64, facts, hashes, big);
    const strip = (v: View): Array<Omit<LsEntry, 'ino' | 'ctime'>> =>
      v.entries.filter((e) => e.path !== '/lost+found').map(({ ino: _i, ctime: _c, ...rest }) => rest);
    expect(strip(ref64)).toEqual(strip(ref));
  });
});

describe('fixtures/sample.ext2', () => {
  it('is small, clean, and both views agree on it', () => {
    const image = join(import.meta.dirname, '../../fixtures/sample.ext2');
    const geo = readGeometry(image);
    expect(geo.blockSize).toBe(1024);
    expect(geo.inodeSize).toBe(128);
    expect(geo.blocksCount * geo.blockSize).toBeLessThanOrEqual(2 * 1024 * 1024);
    assertE2fsckClean(image);
    const kernel = kernelView(image);
    expectViewsAgree(kernel, debugfsView(image));
    const m = byPath(kernel);
    expect(m.get('/link-fast')?.target).toBe('hello.txt');
    expect(m.get('/link-slow')?.target?.length).toBeGreaterThanOrEqual(60);
    expect(m.get('/docs/hello-hardlink.txt')?.ino).toBe(m.get('/hello.txt')?.ino);
    expect(m.get('/fifo')?.type).toBe('fifo');
    expect(m.has('/café-日本語.txt')).toBe(true);
    expect(imageBlockMap(image, m.get('/sparse.bin')!.ino).data.map((r) => r.logical)).toEqual([0, 200]);
  });
});

interface Config {
  name: string;
  blockSize: 1024 | 2048 | 4096;
  inodeSize: 128 | 256;
  rev0?: boolean;
  noFiletype?: boolean;
  htree?: boolean;
}

const configs: Config[] = [
  { name: '1k-128', blockSize: 1024, inodeSize: 128 },
  { name: '1k-rev0', blockSize: 1024, inodeSize: 128, rev0: true },
  { name: '4k-256', blockSize: 4096, inodeSize: 256 },
  { name: '2k-256', blockSize: 2048, inodeSize: 256 },
  { name: '4k-128-nofiletype', blockSize: 4096, inodeSize: 128, noFiletype: true },
  { name: '1k-256-htree', blockSize: 1024, inodeSize: 256, htree: true },
];

describe('full trees', () => {
  const trees = new Map<string, { src: string; facts: TreeFacts; hashes: Map<string, string> }>();
  const treeFor = (bs: number, is: 128 | 256): { src: string; facts: TreeFacts; hashes: Map<string, string> } => {
    const key = `${bs}-${is}`;
    let t = trees.get(key);
    if (t === undefined) {
      const src = join(work, `tree-${key}`);
      const facts = buildTree(src, { blockSize: bs, inodeSize: is });
      rawByPath = new Map(facts.rawNames.map((r) => [r.path, Buffer.concat([Buffer.from('/names/'), r.raw])]));
      const hashes = new Map<string, string>();
      for (const f of facts.boundaryFiles) hashes.set(f.path, hostSha256(src, f.path));
      for (const s of facts.sparse) hashes.set(s.path, sparseSha256(src, s));
      for (const r of facts.rawNames) hashes.set(r.path, hostSha256(src, r.path));
      for (const p of ['/hard/b/two', '/many/f1999', '/names/é', facts.deepest!]) hashes.set(p, hostSha256(src, p));
      t = { src, facts, hashes };
      trees.set(key, t);
    }
    return t;
  };

  for (const c of configs) {
    it(`${c.name}: image is clean and kernel and debugfs views agree`, async () => {
      const { src, facts, hashes } = treeFor(c.blockSize, c.inodeSize);
      await tick();
      const image = makeExt2Image({
        src, out: join(work, `${c.name}.img`), blockSize: c.blockSize, inodeSize: c.inodeSize,
        rev0: c.rev0, noFiletype: c.noFiletype, htree: c.htree, label: c.name,
      });
      await tick();
      assertE2fsckClean(image);
      const geo = readGeometry(image);
      expect(geo.blockSize).toBe(c.blockSize);
      expect(geo.inodeSize).toBe(c.inodeSize);
      expect(geo.revLevel).toBe(c.rev0 === true ? 0 : 1);
      expect((geo.featureIncompat & 0x2) !== 0).toBe(c.rev0 !== true && c.noFiletype !== true);

      const kernel = kernelView(image);
      await tick();
      const dbg = debugfsView(image);
      await tick();
      expectViewsAgree(kernel, dbg);
      expectViewMatchesTree(kernel, facts, hashes, image);
      await tick();
      expect(kernel.entries.filter((e) => e.path.startsWith('/many/')).length).toBe(facts.manyCount);

      if (c.htree === true) {
        const many = kernel.entries.find((e) => e.path === '/many')!;
        const st = debugfsStat(image, [many.ino]).get(many.ino)!;
        expect(st.flags & 0x1000).toBe(0x1000); // EXT2_INDEX_FL
      }
      if (c.inodeSize === 256) {
        // Nanoseconds and epoch bits really are in the image (and the kernel shows them).
        const nanos = kernel.entries.find((e) => e.path === '/times/nanos')!;
        const st = debugfsStat(image, [nanos.ino]).get(nanos.ino)!;
        expect(st.mtime).toEqual({ sec: 1700000000, nsec: 123456789 });
        expect(kernel.entries.find((e) => e.path === '/times/y2446')!.mtime).toBe(15032385535);
        expect(kernel.entries.find((e) => e.path === '/times/neg-nanos')!.atime).toBe(-2);
      }
    });
  }

  it('e2fsck notices a corrupted copy (the check is not a no-op)', () => {
    const image = join(work, '1k-128.img');
    const bad = join(work, 'bad.img');
    run('cp', [image, bad]);
    run('debugfs', ['-w', '-R', 'sif /sizes/12bs+1 block[IND] 99999999', bad]);
    expect(e2fsckCheck(bad).status).not.toBe(0);
    expect(() => assertE2fsckClean(bad)).toThrow(/not clean/);
  });
});
