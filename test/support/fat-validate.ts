// Validators for FAT images, built only on independent tools: dosfstools (fsck.fat), util-linux
// (blkid, wipefs), mtools (mcopy, mdir) and js-fatfs (ChaN FatFs compiled to WebAssembly). Never
// our own reader: these judge what fsconv writes. See docs in /work/shared/reference/fat-facts.md,
// "Traps found by testing" and "Validating an image with independent tools".
//
// Every function takes the image path and an optional partition offset in bytes (a FAT volume
// inside a disk image with an MBR). How each tool gets there:
//   fsck.fat  has no offset option: the partition is copied to a temporary (sparse) file.
//   blkid     `-p -O OFFSET -S SIZE` probes the partition in place.
//   wipefs    its -o/--offset is an erase offset, not a probe offset: temporary copy, like fsck.
//   mtools    `-i IMG@@OFFSET`.
//   js-fatfs  our disk-I/O callbacks read sectors at OFFSET + sector * size straight from the file.
// The partition length comes from the MBR entry that starts at OFFSET (LBAs in 512-byte units)
// when there is one, else it runs to the end of the file.
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, mkdtempSync, openSync,
  readdirSync, readFileSync, readSync, rmSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as FatFs from 'js-fatfs';
import { decodeName } from './ls-entry.js';
import { run, tryRun, type RunResult } from './run.js';

// ---------------------------------------------------------------------------------------------
// Partitions

export interface PartitionExtent {
  /** Byte offset of the FAT volume in the image file. */
  offset: number;
  /** Byte length of the volume: the MBR entry's size when one starts at `offset`, else to end of file. */
  length: number;
}

/** Where the volume at `partitionOffset` lies in `img` (see the header comment). */
export function partitionExtent(img: string, partitionOffset = 0): PartitionExtent {
  if (!Number.isSafeInteger(partitionOffset) || partitionOffset < 0) {
    throw new Error(`partition offset must be a non-negative integer, got ${partitionOffset}`);
  }
  const fd = openSync(img, 'r');
  try {
    const size = fstatSync(fd).size;
    if (partitionOffset >= size) throw new Error(`${img}: partition offset ${partitionOffset} is beyond the end (${size} bytes)`);
    let length = size - partitionOffset;
    if (partitionOffset > 0) {
      const mbr = Buffer.alloc(512);
      readSync(fd, mbr, 0, 512, 0);
      if (mbr[510] === 0x55 && mbr[511] === 0xaa) {
        for (let i = 0; i < 4; i++) {
          const e = 446 + 16 * i;
          const type = mbr[e + 4]!;
          const start = mbr.readUInt32LE(e + 8);
          const count = mbr.readUInt32LE(e + 12);
          if (type !== 0 && start * 512 === partitionOffset && count > 0) {
            length = Math.min(count * 512, size - partitionOffset);
            break;
          }
        }
      }
    }
    return { offset: partitionOffset, length };
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs fn on a file holding just the volume: the image itself at offset 0, else a temporary sparse
 * copy of the partition bytes (all-zero chunks become holes), removed afterwards.
 */
function withVolumeFile<T>(img: string, partitionOffset: number, fn: (path: string) => T): T {
  if (partitionOffset === 0) return fn(img);
  const { offset, length } = partitionExtent(img, partitionOffset);
  const dir = mkdtempSync(join(tmpdir(), 'fat-validate-'));
  const copy = join(dir, 'partition.img');
  try {
    const src = openSync(img, 'r');
    const dst = openSync(copy, 'w');
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let pos = 0; pos < length; ) {
        const want = Math.min(chunk.length, length - pos);
        const n = readSync(src, chunk, 0, want, offset + pos);
        if (n <= 0) break;
        const data = chunk.subarray(0, n);
        if (data.some((b) => b !== 0)) {
          for (let done = 0; done < n; ) done += writeSync(dst, data, done, n - done, pos + done);
        }
        pos += n;
      }
      ftruncateSync(dst, length);
    } finally {
      closeSync(src);
      closeSync(dst);
    }
    return fn(copy);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function output(r: RunResult): string {
  return (r.stdout.toString('utf8') + r.stderr.toString('utf8')).trimEnd();
}

// ---------------------------------------------------------------------------------------------
// fsck.fat

export interface FsckSummary {
  files: number;
  usedClusters: number;
  totalClusters: number;
}

const FSCK_ALLOWED = [
  /^fsck\.fat \d+\.\d+(\.\d+)? \(\d{4}-\d\d-\d\d\)$/, // banner
  /^Starting check\/repair pass\.$/,
  /^Starting verification pass\.$/,
];
const FSCK_SUMMARY = /^.*: (\d+) files, (\d+)\/(\d+) clusters$/;

/**
 * `fsck.fat -n -V`: throws unless it exits 0 AND prints nothing but the banner, the two pass lines
 * and the summary (fat-facts trap 1: bad LFN checksums, FSInfo errors, backup boot differences…
 * are printed with exit status 0). Returns the parsed summary.
 */
export function fsckFatStrict(img: string, partitionOffset = 0): FsckSummary {
  return withVolumeFile(img, partitionOffset, (vol) => {
    const r = tryRun('fsck.fat', ['-n', '-V', vol], { input: '' });
    const out = output(r);
    const where = partitionOffset === 0 ? img : `${img} @ offset ${partitionOffset}`;
    if (r.status !== 0) throw new Error(`fsck.fat -n -V ${where}: exit status ${r.status}\n${out}`);
    let summary: FsckSummary | undefined;
    const unexpected: string[] = [];
    for (const line of out.split('\n')) {
      if (FSCK_ALLOWED.some((re) => re.test(line))) continue;
      const m = FSCK_SUMMARY.exec(line);
      if (m !== null && line.startsWith(`${vol}: `) && summary === undefined) {
        summary = { files: Number(m[1]), usedClusters: Number(m[2]), totalClusters: Number(m[3]) };
        continue;
      }
      unexpected.push(line);
    }
    if (unexpected.length > 0 || summary === undefined) {
      throw new Error(
        `fsck.fat -n -V ${where}: exit status 0 but not clean` +
          (summary === undefined ? ' (no summary line)' : '') +
          `:\n${unexpected.map((l) => `  | ${l}`).join('\n')}\nfull output:\n${out}`,
      );
    }
    return summary;
  });
}

// ---------------------------------------------------------------------------------------------
// blkid

/**
 * `blkid -p -o export`: exit status 0 (8 = ambivalent, e.g. a leftover ext2 superblock; 2 = nothing
 * found) and TYPE=vfat. Returns every field (TYPE, SEC_TYPE, VERSION, UUID, LABEL, LABEL_FATBOOT,
 * BLOCK_SIZE, USAGE…; DEVNAME dropped).
 */
export function blkidVfat(img: string, partitionOffset = 0): Record<string, string> {
  const args = ['-p', '-o', 'export'];
  if (partitionOffset !== 0) {
    const { offset, length } = partitionExtent(img, partitionOffset);
    args.push('-O', String(offset), '-S', String(length));
  }
  args.push(img);
  const r = tryRun('blkid', args);
  const out = output(r);
  if (r.status !== 0) {
    const why = r.status === 8 ? ' (ambivalent: more than one signature)' : r.status === 2 ? ' (nothing detected)' : '';
    throw new Error(`blkid ${args.join(' ')}: exit status ${r.status}${why}\n${out}`);
  }
  const fields: Record<string, string> = {};
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    fields[line.slice(0, i)] = line.slice(i + 1);
  }
  delete fields['DEVNAME'];
  if (fields['TYPE'] !== 'vfat') throw new Error(`blkid ${args.join(' ')}: TYPE=${fields['TYPE'] ?? '(none)'}, expected vfat\n${out}`);
  if (fields['PTTYPE'] !== undefined) throw new Error(`blkid ${args.join(' ')}: also reports a partition table (PTTYPE=${fields['PTTYPE']})\n${out}`);
  return fields;
}

// ---------------------------------------------------------------------------------------------
// wipefs

export interface WipefsSignature {
  /** Byte offset of the magic string, relative to the volume. */
  offset: number;
  type: string;
  uuid: string | undefined;
  label: string | undefined;
}

/** Every signature `wipefs -n -J` finds (relative to the volume at partitionOffset). */
export function wipefsSignatures(img: string, partitionOffset = 0): WipefsSignature[] {
  return withVolumeFile(img, partitionOffset, (vol) => {
    const r = run('wipefs', ['-n', '-J', vol]);
    const text = r.stdout.toString('utf8').trim();
    if (text === '') return [];
    const parsed = JSON.parse(text) as { signatures?: Array<Record<string, unknown>> };
    return (parsed.signatures ?? []).map((s) => ({
      offset: Number(s['offset']),
      type: String(s['type']),
      uuid: typeof s['uuid'] === 'string' ? s['uuid'] : undefined,
      label: typeof s['label'] === 'string' ? s['label'] : undefined,
    }));
  });
}

/**
 * `wipefs -n -J`: throws unless at least one signature is found and every one is vfat (a leftover
 * ext2/ext4 superblock, a partition table inside the volume, anything else: fail). Returns them.
 */
export function wipefsOnlyVfat(img: string, partitionOffset = 0): WipefsSignature[] {
  const sigs = wipefsSignatures(img, partitionOffset);
  const other = sigs.filter((s) => s.type !== 'vfat');
  if (sigs.length === 0 || other.length > 0) {
    const list = sigs.map((s) => `${s.type}@0x${s.offset.toString(16)}`).join(', ') || '(none)';
    throw new Error(`wipefs -n ${img}${partitionOffset ? ` @ offset ${partitionOffset}` : ''}: expected only vfat signatures, found ${list}`);
  }
  return sigs;
}

// ---------------------------------------------------------------------------------------------
// mtools

/**
 * Environment for mtools: UTF-8 names, UTC times, and none of the caller's MTOOLS_* overrides
 * (MTOOLS_SKIP_CHECK in particular would hide geometry errors, fat-facts trap 5). Config files
 * (/etc/mtools.conf, ~/.mtoolsrc) are still read; only drive letters are defined there.
 */
function mtoolsEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { LC_ALL: 'C.UTF-8', TZ: 'UTC' };
  for (const k of Object.keys(process.env)) if (k.startsWith('MTOOLS')) env[k] = undefined;
  return env;
}

function mtoolsImage(img: string, partitionOffset: number): string {
  return partitionOffset === 0 ? img : `${img}@@${partitionOffset}`;
}

/** mtools exits 1 with 'File "::/" not found' for a root without entries: confirm with a plain listing. */
function mtoolsRootIsEmpty(img: string, partitionOffset: number): boolean {
  const r = tryRun('mdir', ['-a', '-i', mtoolsImage(img, partitionOffset), '::/'], { env: mtoolsEnv(), input: '' });
  return r.status === 0 && r.stderr.length === 0 && /^No files$/m.test(r.stdout.toString('utf8'));
}

function runMtools(cmd: string, args: string[], img: string, partitionOffset: number): RunResult | undefined {
  const r = tryRun(cmd, args, { env: mtoolsEnv(), input: '' });
  const err = r.stderr.toString('utf8').trim();
  if (r.status === 1 && /^\S+: File "::\/" not found$/.test(err) && r.stdout.length === 0 && mtoolsRootIsEmpty(img, partitionOffset)) {
    return undefined; // empty root directory
  }
  // Strict: any message on stderr (a warning about the boot sector, a name clash…) is a failure.
  if (r.status !== 0 || err !== '') {
    throw new Error(`${r.command}: exit status ${r.status}${err !== '' ? `\nstderr:\n${err}` : ''}`);
  }
  return r;
}

interface HostEntry {
  /** Relative path decoded per component (U+FFFD for bytes that are not UTF-8). */
  rel: string;
  abs: Buffer;
  isDir: boolean;
  isFile: boolean;
}

/** Every entry under dir (files, directories, anything), parents first, byte order within a directory. */
function walkHost(dir: string): HostEntry[] {
  const out: HostEntry[] = [];
  const rec = (abs: Buffer, rel: string): void => {
    const names = readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const name of names) {
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const childRel = rel === '' ? decodeName(name) : `${rel}/${decodeName(name)}`;
      const st = lstatSync(childAbs);
      out.push({ rel: childRel, abs: childAbs, isDir: st.isDirectory(), isFile: st.isFile() });
      if (st.isDirectory()) rec(childAbs, childRel);
    }
  };
  rec(Buffer.from(dir), '');
  return out;
}

/**
 * Extracts the whole volume with `mcopy -s -n -m -i IMG ::/ destDir/` (LC_ALL=C.UTF-8, TZ=UTC,
 * MTOOLS_SKIP_CHECK unset). destDir is created when absent and must be empty. Returns every
 * extracted path relative to destDir (files and directories, parents first, byte order within a
 * directory), decoded from the host names. Names outside the BMP do not survive mtools 4.0.32
 * (fat-facts trap 3): they come back as mtools writes them; callers decide.
 */
export function mtoolsExtract(img: string, destDir: string, partitionOffset = 0): string[] {
  mkdirSync(destDir, { recursive: true });
  if (readdirSync(destDir).length > 0) throw new Error(`mtoolsExtract: ${destDir} is not empty`);
  const r = runMtools('mcopy', ['-s', '-n', '-m', '-i', mtoolsImage(img, partitionOffset), '::/', `${destDir}/`], img, partitionOffset);
  if (r === undefined) return [];
  return walkHost(destDir).map((e) => e.rel);
}

export interface MtoolsEntry {
  /** '/'-rooted path, no trailing slash. */
  path: string;
  isDir: boolean;
}

/** Every entry from `mdir -/ -b -a -i IMG ::/` (hidden and system ones included; no '.'/'..'). */
export function mtoolsListEntries(img: string, partitionOffset = 0): MtoolsEntry[] {
  const r = runMtools('mdir', ['-/', '-b', '-a', '-i', mtoolsImage(img, partitionOffset), '::/'], img, partitionOffset);
  if (r === undefined) return [];
  const out: MtoolsEntry[] = [];
  const text = r.stdout.toString('utf8');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!line.startsWith('::/')) throw new Error(`mdir -b: unexpected line ${JSON.stringify(line)}`);
    const isDir = line.endsWith('/');
    out.push({ path: line.slice(2, isDir ? -1 : undefined), isDir });
  }
  return out;
}

/** Every path from `mdir -/ -b -a -i IMG ::/`, as '/'-rooted strings (directories without a trailing slash). */
export function mtoolsList(img: string, partitionOffset = 0): string[] {
  return mtoolsListEntries(img, partitionOffset).map((e) => e.path);
}

// ---------------------------------------------------------------------------------------------
// js-fatfs

export interface FatfsEntry {
  /** '/'-rooted path as FatFs reports it (UTF-8 API: surrogate pairs decoded, NT case bits applied). */
  path: string;
  isDir: boolean;
  /** File size in bytes (0 for directories). */
  size: number;
  /** Attribute byte (AM_RDO 1, AM_HID 2, AM_SYS 4, AM_DIR 0x10, AM_ARC 0x20). */
  attrib: number;
  /** The short (8.3) name FatFs reports, '' when the entry has none of its own. */
  altname: string;
  /** Raw FAT modification date and time words. */
  fdate: number;
  ftime: number;
  /** sha256 hex of the file content (files only, when requested). */
  sha256?: string;
}

export interface FatfsListOptions {
  /** OEM code page for short names (default 850, the default of fsck.fat and mtools). */
  codepage?: number;
  /** Also read every file and hash it (opens by path: see the caveat on jsFatfsList). */
  sha256?: boolean;
}

const FR_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(FatFs)) if (k.startsWith('FR_') && typeof v === 'number') FR_NAMES[v] = k;

function check(what: string, r: number): void {
  if (r !== FatFs.FR_OK) throw new Error(`js-fatfs: ${what} failed: ${FR_NAMES[r] ?? r}`);
}

/**
 * Lists every entry of the volume with js-fatfs (ChaN FatFs in WebAssembly: LFN on, UTF-8
 * API, variable sector size 512–4096, no exFAT), walking directories recursively, parents first.
 * Read-only: the disk callbacks read sectors from the file on demand (no size limit, nothing is
 * loaded whole) and refuse writes. Caveat: FatFs looks names up case-insensitively and strips
 * trailing dots/spaces when opening by path, so with case-insensitive duplicates (themselves an
 * error) a directory may be walked twice and sha256 may be the first match's.
 */
export async function jsFatfsList(img: string, partitionOffset = 0, opts: FatfsListOptions = {}): Promise<FatfsEntry[]> {
  const { offset, length } = partitionExtent(img, partitionOffset);
  const fd = openSync(img, 'r');
  try {
    const bps = Buffer.alloc(2);
    readSync(fd, bps, 0, 2, offset + 11);
    const ss = bps.readUInt16LE(0);
    if (![512, 1024, 2048, 4096].includes(ss)) throw new Error(`js-fatfs: ${img}: unsupported bytes per sector ${ss}`);
    const sectors = Math.floor(length / ss);
    const diskio: FatFs.DiskIO = {
      initialize: () => FatFs.STA_PROTECT,
      status: () => FatFs.STA_PROTECT,
      read(ff, _pdrv, buff, sector, count) {
        const s = sector >>> 0;
        if (s + count > sectors) return FatFs.RES_PARERR;
        const want = count * ss;
        let done = 0;
        while (done < want) {
          const n = readSync(fd, ff.HEAPU8, buff + done, want - done, offset + s * ss + done);
          if (n <= 0) break;
          done += n;
        }
        if (done < want) ff.HEAPU8.fill(0, buff + done, buff + want);
        return FatFs.RES_OK;
      },
      write: () => FatFs.RES_WRPRT,
      ioctl(ff, _pdrv, cmd, buff) {
        switch (cmd) {
          case FatFs.CTRL_SYNC: return FatFs.RES_OK;
          case FatFs.GET_SECTOR_COUNT: ff.setValue(buff, sectors, 'i32'); return FatFs.RES_OK;
          case FatFs.GET_SECTOR_SIZE: ff.setValue(buff, ss, 'i16'); return FatFs.RES_OK;
          case FatFs.GET_BLOCK_SIZE: ff.setValue(buff, 1, 'i32'); return FatFs.RES_OK;
          default: return FatFs.RES_PARERR;
        }
      },
    };
    const ff = await FatFs.create({ diskio, codepage: opts.codepage ?? 850 });
    const fs = ff.malloc(FatFs.sizeof_FATFS);
    const fno = ff.malloc(FatFs.sizeof_FILINFO);
    const dir = ff.malloc(FatFs.sizeof_DIR);
    const fil = ff.malloc(FatFs.sizeof_FIL);
    const br = ff.malloc(4);
    const buf = ff.malloc(65536);
    try {
      check('f_mount', ff.f_mount(fs, '', 1));
      const out: FatfsEntry[] = [];
      const hashFile = (path: string): string => {
        check(`f_open ${path}`, ff.f_open(fil, path, FatFs.FA_READ));
        try {
          const h = createHash('sha256');
          for (;;) {
            check(`f_read ${path}`, ff.f_read(fil, buf, 65536, br));
            const n = ff.getValue(br, 'i32') >>> 0;
            if (n === 0) break;
            h.update(ff.HEAPU8.subarray(buf, buf + n));
          }
          return h.digest('hex');
        } finally {
          ff.f_close(fil);
        }
      };
      const walk = (dirPath: string): void => {
        // Read the whole directory first: FatFs has one DIR object here and we recurse.
        const entries: FatfsEntry[] = [];
        check(`f_opendir ${dirPath || '/'}`, ff.f_opendir(dir, dirPath || '/'));
        try {
          for (;;) {
            check(`f_readdir ${dirPath || '/'}`, ff.f_readdir(dir, fno));
            const name = ff.FILINFO_fname(fno);
            if (name === '') break;
            const attrib = ff.FILINFO_fattrib(fno) & 0xff;
            const isDir = (attrib & FatFs.AM_DIR) !== 0;
            entries.push({
              path: `${dirPath}/${name}`,
              isDir,
              size: isDir ? 0 : ff.FILINFO_fsize(fno) >>> 0,
              attrib,
              altname: ff.FILINFO_altname(fno),
              fdate: ff.FILINFO_fdate(fno) & 0xffff,
              ftime: ff.FILINFO_ftime(fno) & 0xffff,
            });
          }
        } finally {
          ff.f_closedir(dir);
        }
        for (const e of entries) {
          out.push(e);
          if (e.isDir) walk(e.path);
          else if (opts.sha256 === true) e.sha256 = hashFile(e.path);
        }
      };
      walk('');
      ff.f_unmount('');
      return out;
    } finally {
      for (const p of [buf, br, fil, dir, fno, fs]) ff.free(p);
    }
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Names

/**
 * The key two FAT names collide on: each BMP code point replaced by its simple (one code point)
 * uppercase mapping, like the upcase tables of Windows and FatFs; astral code points and
 * characters whose uppercase is longer (ß → SS) are kept. A superset of the kernel's
 * ASCII/nls folding, so it errs on the side of reporting a collision.
 */
export function fatNameKey(name: string): string {
  let key = '';
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (cp > 0xffff) {
      key += ch;
      continue;
    }
    const up = ch.toUpperCase();
    key += up.length === 1 ? up : ch;
  }
  return key;
}

/**
 * Pairs of paths in the same directory whose names are equal ignoring case (fat-facts trap 2:
 * fsck.fat compares short names only and mtools extracts both, so nothing else catches these).
 * Every pair of a group is reported, each pair in input order; a path listed twice (two entries
 * with the very same name) is a duplicate too.
 */
export function caseInsensitiveDuplicates(paths: Iterable<string>): Array<[string, string]> {
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const trimmed = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
    const i = trimmed.lastIndexOf('/');
    const parent = i < 0 ? '' : trimmed.slice(0, i);
    const name = trimmed.slice(i + 1);
    // Parents compared folded too: '/A/x' and '/a/x' are the same directory on FAT.
    const key = `${fatNameKey(parent)}\0${fatNameKey(name)}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [trimmed]);
    else g.push(trimmed);
  }
  const out: Array<[string, string]> = [];
  for (const g of groups.values()) {
    for (let a = 0; a < g.length; a++) for (let b = a + 1; b < g.length; b++) out.push([g[a]!, g[b]!]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Content

export interface CompareResult {
  ok: boolean;
  /** Expected files absent from extractDir (or not regular files). */
  missing: string[];
  /** Expected files whose bytes differ. */
  different: Array<{ path: string; expectedSha256: string; actualSha256: string; expectedSize?: number; actualSize: number }>;
  /** Regular files in extractDir not in `expected` ('/'-rooted, decoded). */
  extra: string[];
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Compares extracted files with what they should hold. `expected` maps '/'-rooted FAT paths to the
 * exact bytes or to a sha256 hex digest. Directories in extractDir are not compared; regular files
 * not listed in `expected` are reported in `extra`.
 */
export function compareExtractedWithSource(extractDir: string, expected: Map<string, Uint8Array | string>): CompareResult {
  const missing: string[] = [];
  const different: CompareResult['different'] = [];
  for (const [fatPath, want] of expected) {
    const host = join(extractDir, fatPath);
    if (!existsSync(host) || !lstatSync(host).isFile()) {
      missing.push(fatPath);
      continue;
    }
    const got = readFileSync(host);
    if (typeof want === 'string') {
      const actual = sha256Hex(got);
      if (actual !== want.toLowerCase()) different.push({ path: fatPath, expectedSha256: want, actualSha256: actual, actualSize: got.length });
    } else if (!Buffer.from(want.buffer, want.byteOffset, want.byteLength).equals(got)) {
      different.push({ path: fatPath, expectedSha256: sha256Hex(want), actualSha256: sha256Hex(got), expectedSize: want.length, actualSize: got.length });
    }
  }
  const extra: string[] = [];
  for (const e of walkHost(extractDir)) {
    const p = `/${e.rel}`;
    if (e.isFile && !expected.has(p)) extra.push(p);
  }
  return { ok: missing.length === 0 && different.length === 0 && extra.length === 0, missing, different, extra };
}

// ---------------------------------------------------------------------------------------------
// All at once

export interface FatValidation {
  fsck: FsckSummary;
  blkid: Record<string, string>;
  wipefs: WipefsSignature[];
}

/** fsckFatStrict + blkidVfat + wipefsOnlyVfat: the structural checks, each throwing on failure. */
export function validateFatStructure(img: string, partitionOffset = 0): FatValidation {
  return {
    fsck: fsckFatStrict(img, partitionOffset),
    blkid: blkidVfat(img, partitionOffset),
    wipefs: wipefsOnlyVfat(img, partitionOffset),
  };
}
