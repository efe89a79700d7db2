// Extended attributes and inode flags against the kernel (issue 11, item 1, reader side): ext2
// images made with mke2fs (-I 256: small attributes in the inode, the rest in a block; -I 128: all
// in blocks), loop-mounted read-write, then given through the kernel user.* (text, empty, UTF-8,
// binary, ~3000 bytes on 4 KiB blocks), trusted.*, security.* (setfattr, and a file capability with
// setcap), POSIX ACLs (access with named users and groups, and a directory's default ACL), two
// files with identical attributes (the kernel shares one xattr block, refcount 2) and chattr flags
// (a d A S s u i c t x on files, D T on a directory, an htree-indexed directory the kernel made, j
// and m set with debugfs). The truth is what the kernel says while mounted: getfattr -d -m - -e
// base64 (cross-checked with getfacl for the ACLs), lsattr -d. After unmounting, e2fsck -fn must be
// clean, and `fsconv ls --json` must give every entry's attributes as that map (base64 values) and
// its flags as lsattr's letters kept to the user flags. Damaged attributes (a wrong hash in the
// shared block, an in-inode value size past the inode) are refused up front by every command, in
// one line naming the inode, as e2fsck flags them, and a conversion then writes nothing.
// Needs root (loop devices, mount); installs attr, acl, libcap2-bin, e2fsprogs when missing.
import { randomBytes } from 'node:crypto';
import {
  copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ext2Volume, MemoryByteSource, hasInodeXattrs, walkTree, xattrEntryHash, type Inode } from '../packages/ext2fs-reader/src/index.js';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { validateFatStructure } from './support/fat-validate.js';
import { parseLsJsonLines } from './support/ls-entry.js';
import { findTool, run, runText, tryRun } from './support/run.js';

const isRoot = process.getuid?.() === 0;
const canMount = isRoot && existsSync('/dev/loop-control');
if (!canMount && process.env['CI']) throw new Error('ext2-xattrs.test.ts needs root and loop devices (/dev/loop-control), which CI has');

/** Tools and the Debian packages that have them. */
const TOOLS: Record<string, string> = {
  getfattr: 'attr', setfattr: 'attr', getfacl: 'acl', setfacl: 'acl', setcap: 'libcap2-bin',
  chattr: 'e2fsprogs', lsattr: 'e2fsprogs', mke2fs: 'e2fsprogs', e2fsck: 'e2fsprogs', debugfs: 'e2fsprogs',
  losetup: 'mount', mount: 'mount', umount: 'mount', mkfifo: 'coreutils',
};

/** Installs what is missing (as root, with apt-get), or fails saying what to install. */
function ensureTools(): void {
  const missing = (): string[] => Object.keys(TOOLS).filter((t) => findTool(t) === undefined);
  let m = missing();
  if (m.length === 0) return;
  const packages = (tools: string[]): string[] => [...new Set(tools.map((t) => TOOLS[t]!))];
  if (isRoot && findTool('apt-get') !== undefined) {
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    if (tryRun('apt-get', ['install', '-y', ...packages(m)], { env, timeoutMs: 300_000 }).status !== 0) {
      tryRun('apt-get', ['update'], { env, timeoutMs: 300_000 });
      tryRun('apt-get', ['install', '-y', ...packages(m)], { env, timeoutMs: 300_000 });
    }
    m = missing();
  }
  if (m.length > 0) {
    throw new Error(`ext2-xattrs.test.ts needs ${m.join(', ')}: install them as root with: apt-get install -y ${packages(m).join(' ')}`);
  }
}

/** The kernel must mount ext2 here (the ext4 driver does, or ext2 itself); loads a module if needed. */
function ensureExt2Mount(): void {
  const known = (): boolean => /\text[24]$/m.test(readFileSync('/proc/filesystems', 'utf8'));
  if (known()) return;
  if (findTool('modprobe') !== undefined) {
    tryRun('modprobe', ['ext4']);
    tryRun('modprobe', ['ext2']);
  }
  if (!known()) throw new Error('this kernel mounts neither ext2 nor ext4 (not in /proc/filesystems, modprobe ext4/ext2 failed)');
}

let work = '';
/** Undone in reverse order in afterAll, also after a failure: mounts, loop devices. */
const cleanups: Array<() => void> = [];

beforeAll(() => {
  if (!canMount) return;
  ensureTools();
  ensureExt2Mount();
  work = realpathSync(mkdtempSync(join(tmpdir(), 'fsconv-xattrs-')));
}, 600_000);
afterAll(() => {
  for (const f of cleanups.splice(0).reverse()) {
    try {
      f();
    } catch {
      // keep cleaning up
    }
  }
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

interface Variant {
  name: string;
  inodeSize: 128 | 256;
  blockSize: 1024 | 4096;
  /** Size of the large user.big value. */
  bigValue: number;
}

const VARIANTS: Variant[] = [
  { name: '256-byte inodes, 4 KiB blocks (in the inode and in blocks)', inodeSize: 256, blockSize: 4096, bigValue: 3000 },
  { name: '128-byte inodes, 4 KiB blocks (all in blocks)', inodeSize: 128, blockSize: 4096, bigValue: 3000 },
  { name: '256-byte inodes, 1 KiB blocks', inodeSize: 256, blockSize: 1024, bigValue: 800 },
];

/** lsattr letters fsconv keeps (user flags, lib/e2p/pf.c order): what lsattr shows, filtered. */
const USER_LETTERS = 'suSDiadAcjtTCxFP';

/** Files flagged with chattr, and their flags. */
const CHATTR: Array<[path: string, flags: string]> = [
  ['flag-a', '+a'], ['flag-d', '+d'], ['flag-A', '+A'], ['flag-S', '+S'], ['flag-s', '+s'], ['flag-u', '+u'],
  ['flag-i', '+i'], ['flag-c', '+c'], ['flag-t', '+t'], ['flag-x', '+x'], ['flag-multi', '+dAS'], ['flag-dir', '+DT'],
];

interface Truth {
  /** getfattr's map per '/'-rooted path (only paths with attributes). */
  xattrs: Map<string, Record<string, string>>;
  /** lsattr's letters per path (files and directories). */
  lsattr: Map<string, string>;
  /** getfacl -n lines per path with an ACL. */
  getfacl: Map<string, string[]>;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** Parses `getfattr -R -h -d -m - -e base64 --absolute-names MNT`. */
function parseGetfattr(text: string, mnt: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = line.slice(8);
      if (abs !== mnt && !abs.startsWith(`${mnt}/`)) throw new Error(`getfattr listed ${abs} outside ${mnt}`);
      const path = abs === mnt ? '/' : abs.slice(mnt.length);
      cur = {};
      out.set(path, cur);
    } else if (line !== '') {
      const m = /^([^=]+)=0s(.*)$/.exec(line);
      if (m === null || cur === undefined) throw new Error(`cannot parse getfattr line: ${line}`);
      cur[m[1]!] = m[2]!;
    }
  }
  return out;
}

/** getfacl's lines (numeric) for our POSIX ACL values in the xattr format. */
function aclLines(value: string, prefix: string): string[] {
  const v = Buffer.from(value, 'base64');
  expect(v.readUInt32LE(0)).toBe(2);
  const lines: string[] = [];
  for (let o = 4; o < v.length; o += 8) {
    const tag = v.readUInt16LE(o);
    const perm = v.readUInt16LE(o + 2);
    const id = v.readUInt32LE(o + 4);
    const name = { 1: 'user', 2: 'user', 4: 'group', 8: 'group', 0x10: 'mask', 0x20: 'other' }[tag];
    if (name === undefined) throw new Error(`unknown ACL tag ${tag}`);
    if ([1, 4, 0x10, 0x20].includes(tag)) expect(id).toBe(0xffffffff);
    const perms = `${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}${perm & 1 ? 'x' : '-'}`;
    lines.push(`${prefix}${name}:${tag === 2 || tag === 8 ? id : ''}:${perms}`);
  }
  return lines;
}

/** The image: a small -d tree, j and m set with debugfs, the rest done through the kernel. */
function buildImage(v: Variant, dir: string): { img: string; truth: Truth } {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'from-mkfs-dir'), { recursive: true });
  writeFileSync(join(src, 'from-mkfs'), 'made by mke2fs -d\n');
  const img = join(dir, 'ext2.img');
  run('mke2fs', ['-q', '-F', '-t', 'ext2', '-I', String(v.inodeSize), '-b', String(v.blockSize), '-N', '512', '-d', src, img, '16M'],
    { env: { LC_ALL: 'C' } });
  // Flags chattr cannot set on ext2 (j needs a journal) or must not (m), for the filter.
  run('debugfs', ['-w', '-R', 'sif /from-mkfs flags 0x4400', img]);

  const loop = runText('losetup', ['-f', '--show', img]).trim();
  let attached = true;
  cleanups.push(() => {
    if (attached) tryRun('losetup', ['-d', loop]);
  });
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  run('mount', ['-t', 'ext2', loop, mnt]);
  let mounted = true;
  const unmount = (): void => {
    if (mounted) run('umount', [mnt]);
    mounted = false;
  };
  cleanups.push(() => {
    if (mounted) tryRun('umount', ['-l', mnt]);
  });
  try {
    const p = (rel: string): string => join(mnt, rel);
    const set = (rel: string, name: string, value?: string, noDeref = false): void => {
      run('setfattr', [...(noDeref ? ['-h'] : []), '-n', name, ...(value !== undefined ? ['-v', value] : []), p(rel)]);
    };
    for (const f of ['text', 'binary', 'big', 'trusted', 'sec', 'cap', 'acl', 'shared1', 'shared2', 'hard', ...CHATTR.filter(([n]) => n !== 'flag-dir').map(([n]) => n)]) {
      writeFileSync(p(f), `${f}\n`);
    }
    for (const d of ['dir', 'acl-dir', 'flag-dir', 'indexed']) mkdirSync(p(d));
    // Enough long names that the kernel turns the directory into an htree (lsattr I, not kept).
    for (let i = 0; i < (v.blockSize === 4096 ? 160 : 60); i++) writeFileSync(p(`indexed/a-rather-long-file-name-to-fill-blocks-${String(i).padStart(4, '0')}`), '');
    set('text', 'user.comment', 'hello world');
    set('text', 'user.empty');
    set('text', 'user.utf8', 'gr\u00fc\u00dfe \u2603');
    set('binary', 'user.small', '0x00ff00ff');
    set('binary', 'user.bin', `0s${b64(Uint8Array.from({ length: 256 }, (_, i) => i))}`);
    set('big', 'user.big', `0s${b64(randomBytes(v.bigValue))}`);
    set('big', 'user.tag', 'big one');
    set('trusted', 'trusted.secret', 'x');
    set('sec', 'security.test', 'sec');
    run('setcap', ['cap_net_raw+ep', p('cap')]);
    run('setfacl', ['-m', 'u:1234:rw,g:55:r', p('acl')]);
    run('setfacl', ['-m', 'u:1234:rx', p('acl-dir')]);
    run('setfacl', ['-d', '-m', 'u:1234:rwx', p('acl-dir')]);
    // Identical attributes too large for the inode: the kernel shares one block between the two.
    const shared = `0s${b64(randomBytes(200))}`;
    for (const f of ['shared1', 'shared2']) {
      set(f, 'user.shared', shared);
      set(f, 'user.same', 'same');
    }
    set('hard', 'user.h', '1');
    linkSync(p('hard'), p('hard2'));
    symlinkSync('text', p('lnk'));
    set('lnk', 'trusted.link', 'on the link', true);
    run('mkfifo', [p('fifo')]);
    set('fifo', 'trusted.fifo', 'y');
    set('dir', 'user.d', 'a directory');
    set('flag-dir', 'user.f', 'flagged');
    for (const [f, flags] of CHATTR) run('chattr', [flags, p(f)]);

    // The kernel's view.
    const xattrs = parseGetfattr(runText('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', mnt]), mnt);
    const getfacl = new Map<string, string[]>();
    for (const f of ['acl', 'acl-dir', 'text']) {
      getfacl.set(`/${f}`, runText('getfacl', ['-n', '--omit-header', '--absolute-names', p(f)]).split('\n').filter((l) => l !== ''));
    }
    // lsattr reads flags of files and directories only (not of symlinks, fifos).
    const flagged: string[] = [];
    const walk = (rel: string): void => {
      for (const d of readdirSync(p(rel), { withFileTypes: true })) {
        const child = `${rel}/${d.name}`;
        if (d.isFile() || d.isDirectory()) flagged.push(p(child));
        if (d.isDirectory()) walk(child);
      }
    };
    walk('');
    const lsattr = new Map<string, string>();
    for (const line of runText('lsattr', ['-d', ...flagged]).split('\n')) {
      const m = /^(\S+) (.+)$/.exec(line);
      if (m === null) continue;
      if (!m[2]!.startsWith(`${mnt}/`)) throw new Error(`lsattr listed ${m[2]} outside ${mnt}`);
      lsattr.set(m[2]!.slice(mnt.length), m[1]!.replace(/-/g, ''));
    }
    expect(lsattr.size).toBe(flagged.length);
    unmount();
    run('losetup', ['-d', loop]);
    attached = false;
    return { img, truth: { xattrs, lsattr, getfacl } };
  } finally {
    if (mounted) tryRun('umount', [mnt]);
    mounted = false;
  }
}

/** Path → decoded inode, through the reader (for checking that the traps are really there). */
function inodesOf(img: string): { vol: Ext2Volume; bytes: Buffer; byPath: Map<string, Inode> } {
  const bytes = readFileSync(img);
  const vol = Ext2Volume.open(new MemoryByteSource(bytes));
  const byPath = new Map<string, Inode>();
  walkTree(vol, { entry: (e) => byPath.set(e.path, e.inode) });
  return { vol, bytes, byPath };
}

interface JsonEntry {
  path: string;
  type: string;
  ino: number;
  xattrs?: Record<string, string>;
  flags?: string;
  [k: string]: unknown;
}

describe.skipIf(!canMount)('xattrs and flags equal the kernel view', () => {
  for (const v of VARIANTS) {
    it(v.name, async () => {
      const dir = join(work, v.name.replace(/\W+/g, '_'));
      mkdirSync(dir);
      const { img, truth } = buildImage(v, dir);
      const fsck = tryRun('e2fsck', ['-fn', img]);
      expect(fsck.status, fsck.stdout.toString()).toBe(0);

      // The traps are really in the image.
      const { vol, bytes, byPath } = inodesOf(img);
      const s1 = byPath.get('/shared1')!;
      const s2 = byPath.get('/shared2')!;
      expect(s1.fileAcl).not.toBe(0);
      expect(s2.fileAcl).toBe(s1.fileAcl);
      expect(bytes.readUInt32LE(s1.fileAcl * vol.blockSize + 4), 'h_refcount of the shared block').toBe(2);
      expect(byPath.get('/big')!.fileAcl).not.toBe(0);
      expect((byPath.get('/indexed')!.flags & 0x1000) !== 0, 'the kernel indexed /indexed').toBe(true);
      const text = byPath.get('/text')!;
      const raw = bytes.subarray(vol.inodePosition(text.ino), vol.inodePosition(text.ino) + vol.sb.inodeSize);
      expect(hasInodeXattrs(raw, vol.sb.inodeSize, { inode: text.ino }), 'in-inode attributes').toBe(v.inodeSize > 128);
      expect(truth.lsattr.get('/from-mkfs')).toContain('j');
      expect(truth.lsattr.get('/from-mkfs')).toContain('m');
      expect(truth.lsattr.get('/indexed')).toContain('I');

      const info = await fsconv(['info', '--json', img]);
      expect(info.status, info.stderr).toBe(0);
      const ls = await fsconv(['ls', '--json', img]);
      expect(ls.status, ls.stderr).toBe(0);
      parseLsJsonLines(ls.stdout); // the ls --json contract (test/support/ls-entry.ts), new fields included
      const entries = ls.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonEntry);
      expect(entries.length).toBeGreaterThan(40);
      const paths = new Set(entries.map((e) => e.path));
      for (const path of truth.xattrs.keys()) if (path !== '/') expect(paths.has(path), path).toBe(true);
      const names = new Set<string>();
      const letters = new Set<string>();
      for (const e of entries) {
        // xattrs: getfattr's map, names and base64 values (absent when none).
        expect(e.xattrs, `xattrs of ${e.path}`).toEqual(truth.xattrs.get(e.path));
        for (const n of Object.keys(e.xattrs ?? {})) names.add(n);
        // flags: lsattr's letters kept to the user flags (absent when none). lsattr reads no flags
        // of symlinks and special files; we set none there.
        if (e.type === 'file' || e.type === 'dir') {
          const theirs = truth.lsattr.get(e.path);
          expect(theirs, `lsattr of ${e.path}`).toBeDefined();
          const kept = [...theirs!].filter((c) => USER_LETTERS.includes(c)).join('');
          expect(e.flags, `flags of ${e.path}`).toBe(kept === '' ? undefined : kept);
        } else {
          expect(e.flags, `flags of ${e.path}`).toBeUndefined();
        }
        for (const c of e.flags ?? '') letters.add(c);
        // Key order: the new fields come after rdev, right before ino.
        const keys = Object.keys(e);
        expect(keys[keys.length - 1]).toBe('ino');
        const tail = keys.slice(-1 - (e.xattrs ? 1 : 0) - (e.flags ? 1 : 0), -1);
        expect(tail).toEqual([...(e.xattrs ? ['xattrs'] : []), ...(e.flags ? ['flags'] : [])]);
      }
      // ACLs read as getfacl reads them.
      const byPathEntry = new Map(entries.map((e) => [e.path, e]));
      for (const [path, lines] of truth.getfacl) {
        const x = byPathEntry.get(path)!.xattrs ?? {};
        if (x['system.posix_acl_access'] === undefined) continue;
        const ours = [...aclLines(x['system.posix_acl_access'], ''),
          ...(x['system.posix_acl_default'] !== undefined ? aclLines(x['system.posix_acl_default'], 'default:') : [])];
        // getfacl prints the effective rights of masked entries as a comment: drop it.
        expect(ours, `ACL of ${path}`).toEqual(lines.map((l) => l.replace(/\s+#effective:.*$/, '')));
      }
      // Everything was there to compare.
      for (const n of ['user.comment', 'user.empty', 'user.utf8', 'user.bin', 'user.big', 'trusted.secret', 'trusted.link', 'trusted.fifo',
        'security.test', 'security.capability', 'system.posix_acl_access', 'system.posix_acl_default', 'user.shared']) {
        expect(names.has(n), n).toBe(true);
      }
      expect([...letters].sort().join('')).toBe([...'adASsuictxDTj'].sort().join(''));
      expect(byPathEntry.get('/hard2')!.xattrs).toEqual(byPathEntry.get('/hard')!.xattrs);
      expect(byPathEntry.get('/text')!.xattrs!['user.empty']).toBe('');
      expect(Buffer.from(byPathEntry.get('/big')!.xattrs!['user.big']!, 'base64').length).toBe(v.bigValue);

      // Converted in place to vfat+rights, every attribute and flag comes back from the rights
      // files, equal to the kernel's view of the source; --to vfat lists each one it cannot keep.
      const converted = join(dir, 'converted.img');
      copyFileSync(img, converted);
      const conv = await fsconv(['--from', 'ext2', '--to', 'vfat+rights', converted, '--yes', '-q']);
      expect(conv.status, conv.stderr).toBe(0);
      validateFatStructure(converted); // fsck.fat strictly, blkid, wipefs: not only our own reader
      const fatLs = await fsconv(['ls', '--json', '--strict', converted]);
      expect(fatLs.status, fatLs.stderr).toBe(0);
      const fatEntries = new Map(fatLs.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonEntry).map((e) => [e.path, e]));
      for (const e of entries) {
        expect(fatEntries.get(e.path)?.xattrs, `xattrs of ${e.path} on FAT`).toEqual(truth.xattrs.get(e.path));
        expect(fatEntries.get(e.path)?.flags, `flags of ${e.path} on FAT`).toBe(e.flags);
      }
      // Rebuilt from FAT into a new FAT image (the FAT+rights importer, issue 12): they all come back again.
      const rebuilt = join(dir, 'rebuilt.img');
      const rb = await fsconv(['--from', 'vfat+rights', '--to', 'vfat+rights', converted, '--output', rebuilt, '-q', '--fat-bits', '32', '--size', '40M']);
      expect(rb.status, rb.stderr).toBe(0);
      validateFatStructure(rebuilt);
      const rebuiltLs = await fsconv(['ls', '--json', '--strict', rebuilt]);
      expect(rebuiltLs.status, rebuiltLs.stderr).toBe(0);
      const rebuiltEntries = new Map(rebuiltLs.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonEntry).map((e) => [e.path, e]));
      for (const e of entries) {
        expect(rebuiltEntries.get(e.path)?.xattrs, `xattrs of ${e.path} rebuilt`).toEqual(truth.xattrs.get(e.path));
        expect(rebuiltEntries.get(e.path)?.flags, `flags of ${e.path} rebuilt`).toBe(e.flags);
        expect(rebuiltEntries.get(e.path)?.mode, `mode of ${e.path} rebuilt`).toBe(e.mode);
      }
      const lossy = await fsconv(['check', '--from', 'ext2', '--to', 'vfat', '--json', img]);
      expect(lossy.status, lossy.stderr).toBe(0);
      const losses = (JSON.parse(lossy.stdout) as { losses: Array<{ path: string; what: string }> }).losses;
      for (const e of entries) {
        if (['fifo', 'char', 'block', 'socket'].includes(e.type)) {
          // Not stored at all without a rights file: that is the loss reported.
          expect(losses, `${e.path} skipped`).toContainEqual({ path: e.path, what: `${e.type} skipped (FAT cannot hold it without a rights file)` });
          continue;
        }
        for (const n of Object.keys(e.xattrs ?? {})) {
          expect(losses, `${e.path} ${n} in Not kept`).toContainEqual({ path: e.path, what: `extended attribute ${n} not kept (no rights file)` });
        }
        if (e.flags) expect(losses, `${e.path} flags in Not kept`).toContainEqual({ path: e.path, what: `inode flags '${e.flags}' not kept (no rights file)` });
      }

      if (v.inodeSize === 256 && v.blockSize === 4096) {
        // Damage, refused up front by every command, as e2fsck judges it, and nothing written.
        const shared = s1.fileAcl * vol.blockSize;
        const block = bytes.subarray(shared, shared + vol.blockSize);
        // The value of user.shared: the entry with name "shared" (index 1).
        let o = 32;
        let valueAt = -1;
        while (block.readUInt32LE(o) !== 0) {
          const len = block[o]!;
          if (block.subarray(o + 16, o + 16 + len).toString() === 'shared') valueAt = block.readUInt16LE(o + 2);
          o += (16 + len + 3) & ~3;
        }
        expect(valueAt).toBeGreaterThan(0);
        const badHash = join(dir, 'bad-hash.img');
        copyFileSync(img, badHash);
        const patched = readFileSync(badHash);
        patched[shared + valueAt] = patched[shared + valueAt]! ^ 0xff;
        writeFileSync(badHash, patched);
        await expectRefused(badHash, new RegExp(`^fsconv: inode (${s1.ino}|${s2.ino}), block ${s1.fileAcl}: extended attribute block: the hash of user\\.shared is wrong \\(0x[0-9a-f]+\\)$`));

        // An in-inode value size past the inode.
        const badSize = join(dir, 'bad-size.img');
        copyFileSync(img, badSize);
        const p2 = readFileSync(badSize);
        const at = vol.inodePosition(text.ino) + 128 + raw.readUInt16LE(128) + 4; // first in-inode entry
        p2.writeUInt32LE(0xffff, at + 8);
        writeFileSync(badSize, p2);
        await expectRefused(badSize, new RegExp(`^fsconv: inode ${text.ino}: in-inode extended attributes: the value of user\\.\\S+ \\(offset \\d+, 65535 bytes\\) lies outside the area$`));

        // One name both in the inode and in its block (user.tag renamed user.big, its hash kept
        // right): e2fsck does not look for that, getxattr would give only one of the two. Refused.
        const big = byPath.get('/big')!;
        const twice = join(dir, 'twice.img');
        copyFileSync(img, twice);
        const p3 = readFileSync(twice);
        const areaAt = vol.inodePosition(big.ino) + 128 + p3.readUInt16LE(vol.inodePosition(big.ino) + 128);
        expect(p3.readUInt32LE(areaAt)).toBe(0xea020000);
        const e = areaAt + 4;
        expect(p3.subarray(e + 16, e + 16 + p3[e]!).toString()).toBe('tag');
        p3.write('big', e + 16);
        const size = p3.readUInt32LE(e + 8);
        const value = p3.subarray(areaAt + 4 + p3.readUInt16LE(e + 2), areaAt + 4 + p3.readUInt16LE(e + 2) + ((size + 3) & ~3));
        if (p3.readUInt32LE(e + 12) !== 0) p3.writeUInt32LE(xattrEntryHash(Buffer.from('big'), value, false), e + 12);
        writeFileSync(twice, p3);
        expect(tryRun('e2fsck', ['-fn', twice]).status, 'e2fsck does not look for names in both places').toBe(0);
        for (const args of [['info', twice], ['ls', '--json', twice]]) {
          expect(expectOneLineRefusal(await fsconv(args)))
            .toBe(`fsconv: inode ${big.ino}, block ${big.fileAcl}: extended attribute "user.big" is both in the inode and in its block`);
        }
      }
    });
  }
});

/** e2fsck finds the damage; info, ls and convert refuse it in one line; the image stays as it was. */
async function expectRefused(img: string, message: RegExp): Promise<void> {
  const fsck = tryRun('e2fsck', ['-fn', img]);
  expect(fsck.status, `e2fsck -fn ${img}: ${fsck.stdout.toString()}`).not.toBe(0);
  const before = sha256File(img);
  for (const args of [['info', img], ['ls', '--json', img], ['convert', '--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '-q']]) {
    const r = await fsconv(args);
    expect(expectOneLineRefusal(r), args.join(' ')).toMatch(message);
  }
  expect(sha256File(img)).toBe(before);
}
