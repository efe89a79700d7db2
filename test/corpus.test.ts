// e2fsprogs' own test images (../shared/corpus/e2fsprogs, never copied into this repo): real
// filesystems written by others, most of them corrupt or using ext4 features. fsconv must accept
// exactly the ones e2fsck -fn finds clean and whose features are supported (and then list what
// debugfs lists), refuse every other one in one line, never crash or hang, and never change them.
// Extended attributes and inode flags are compared apart (debugfsView gives neither): names and
// values against debugfs ea_list/ea_get, flags against debugfs stat.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { parseLsJsonLines, sortEntries } from './support/ls-entry.js';
import { debugfsBatch, debugfsStat, debugfsView } from './support/reference-view.js';
import { corpusImages, corpusPresent, corpusReference, noteCorpusAbsence, unpackCorpusImage } from './support/corpus.js';
import { setTimeout as tick } from 'node:timers/promises';

noteCorpusAbsence('the corpus tests');
const present = corpusPresent;
const images = corpusImages;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-corpus-'));
  mkdirSync(join(work, 'img'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!present)('e2fsprogs corpus', () => {
  it('has images to test', () => expect(images.length).toBeGreaterThan(50));

  const verdicts: Array<{ image: string; accepted: boolean }> = [];
  for (const file of images) {
    it(file, async () => {
      const img = unpackCorpusImage(file, join(work, 'img'));
      const before = sha256File(img);
      const ref = corpusReference(img);
      const shouldAccept = ref.clean && ref.supported;
      const info = await fsconv(['info', '--json', img], { heapMiB: 128, timeoutMs: 30_000 });
      const ls = await fsconv(['ls', '--json', img], { heapMiB: 128, timeoutMs: 30_000 });
      if (shouldAccept) {
        expect(info.status, info.stderr).toBe(0);
        expect(ls.status, ls.stderr).toBe(0);
        const attrs = new Map<number, { xattrs?: Record<string, string>; flags?: string }>();
        const ours = sortEntries(parseLsJsonLines(ls.stdout).map(({ xattrs, flags, ...rest }) => {
          if (xattrs !== undefined || flags !== undefined) {
            attrs.set(rest.ino, { ...(xattrs !== undefined && { xattrs }), ...(flags !== undefined && { flags }) });
          }
          return rest;
        }));
        await tick(0);
        const theirs = sortEntries(debugfsView(img).entries);
        expect(ours).toEqual(theirs);
        const inos = [...new Set(ours.map((e) => e.ino))];
        expect(attrs).toEqual(debugfsAttrs(img, inos, join(work, 'ea')));
      } else {
        expectOneLineRefusal(info);
        expectOneLineRefusal(ls);
      }
      verdicts.push({ image: file, accepted: shouldAccept });
      expect(sha256File(img)).toBe(before);
      rmSync(img);
    });
  }

  it('accepts the clean supported images (at least the known ten)', () => {
    expect(verdicts.filter((v) => v.accepted).length).toBeGreaterThanOrEqual(images.length > 0 ? 10 : 0);
  });
});

/** lsattr letters a user sets with chattr (lib/e2p/pf.c order), by i_flags bit. */
const USER_FLAGS: Array<[number, string]> = [
  [0x1, 's'], [0x2, 'u'], [0x8, 'S'], [0x10000, 'D'], [0x10, 'i'], [0x20, 'a'], [0x40, 'd'], [0x80, 'A'], [0x4, 'c'],
  [0x4000, 'j'], [0x8000, 't'], [0x20000, 'T'], [0x800000, 'C'], [0x2000000, 'x'], [0x40000000, 'F'], [0x20000000, 'P'],
];

/**
 * e2fsprogs' view of the xattrs and user flags of some inodes, by inode number: names from
 * `ea_list`, values from `ea_get -f`. debugfs gives POSIX ACLs in the xattr format too, but with id
 * 0 in the entries that have none, where the kernel's getxattr gives ACL_UNDEFINED_ID (0xffffffff;
 * test/ext2-xattrs.test.ts checks that against the kernel): those ids are compared as the kernel's.
 */
function debugfsAttrs(img: string, inos: number[], dir: string): Map<number, { xattrs?: Record<string, string>; flags?: string }> {
  const out = new Map<number, { xattrs?: Record<string, string>; flags?: string }>();
  const stats = debugfsStat(img, inos);
  const lists = debugfsBatch(img, inos.map((i) => `ea_list <${i}>`));
  mkdirSync(dir, { recursive: true });
  const gets: Array<{ ino: number; name: string; file: string }> = [];
  inos.forEach((ino, k) => {
    for (const line of lists[k]!.split('\n')) {
      const m = /^ {2}(\S+) \((\d+)\)/.exec(line);
      if (m !== null) gets.push({ ino, name: m[1]!, file: join(dir, `${ino}-${gets.length}`) });
    }
  });
  debugfsBatch(img, gets.map((g) => `ea_get -f ${g.file} <${g.ino}> ${g.name}`));
  for (const ino of inos) {
    const entry: { xattrs?: Record<string, string>; flags?: string } = {};
    const mine = gets.filter((g) => g.ino === ino);
    if (mine.length > 0) {
      entry.xattrs = Object.fromEntries(mine.map((g) => {
        const v = readFileSync(g.file);
        if (g.name.startsWith('system.posix_acl_')) {
          for (let o = 4; o + 8 <= v.length; o += 8) if ([0x1, 0x4, 0x10, 0x20].includes(v.readUInt16LE(o))) v.writeUInt32LE(0xffffffff, o + 4);
        }
        return [g.name, v.toString('base64')];
      }));
    }
    const flags = USER_FLAGS.filter(([bit]) => (stats.get(ino)!.flags & bit) !== 0).map(([, l]) => l).join('');
    if (flags !== '') entry.flags = flags;
    if (entry.xattrs !== undefined || entry.flags !== undefined) out.set(ino, entry);
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}
