// Images that lie: each case corrupts a copy of a clean image the way e2fsprogs' test images do
// (with debugfs -w or by patching bytes), and fsconv must refuse with one line naming what and
// where, exit 1, within a bounded time and heap, leaving the image byte-identical.
import { readFileSync, copyFileSync, mkdtempSync, openSync, writeSync, closeSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt2Image } from './support/ext2-image.js';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { run, runText, tryRun } from './support/run.js';
import { buildSmallTree } from './support/trees.js';

let work: string;
let clean: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-lying-'));
  const src = join(work, 'src');
  buildSmallTree(src);
  clean = makeExt2Image({ src, out: join(work, 'clean.img'), blockSize: 1024, inodeSize: 128 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const debugfsWrite = (img: string, ...cmds: string[]): void => {
  for (const c of cmds) run('debugfs', ['-w', '-R', c, img]);
};
const physicalBlock = (img: string, path: string, logical = 0): number =>
  Number(runText('debugfs', ['-R', `bmap ${path} ${logical}`, img]).trim());
const patch = (img: string, offset: number, bytes: number[]): void => {
  const fd = openSync(img, 'r+');
  writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  closeSync(fd);
};
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

interface LyingCase {
  name: string;
  corrupt(img: string): void;
  message: RegExp;
}

const cases: LyingCase[] = [
  {
    name: 'block pointer past the end (f_lotsbad)',
    corrupt: (img) => debugfsWrite(img, 'sif /hello.txt block[0] 99999999'),
    message: /inode \d+: logical block 0 points to block 99999999, outside the filesystem/,
  },
  {
    name: 'i_size of 2^48 (never allocate by i_size)',
    corrupt: (img) => debugfsWrite(img, 'sif /hello.txt size 0x1000000000000'),
    message: /inode \d+: i_size 281474976710656 is larger than a block-mapped file can be/,
  },
  {
    name: 'triple indirect block pointing to itself (a loop)',
    corrupt: (img) => {
      const b = physicalBlock(img, '/hello.txt');
      debugfsWrite(img, `sif /hello.txt block[TIND] ${b}`, 'sif /hello.txt size 0x3ffffffff');
      patch(img, b * 1024, le32(b));
    },
    message: /inode \d+: .*(reached twice|claimed twice|past the end)/,
  },
  {
    name: 'directory record with rec_len 0 (f_baddir)',
    corrupt: (img) => patch(img, physicalBlock(img, '/sub') * 1024 + 12 + 4, [0, 0]),
    message: /inode \d+ \(\/sub\), block \d+: directory record at offset 12 has an invalid rec_len 0/,
  },
  {
    name: 'directory entry with an inode number out of range',
    corrupt: (img) => patch(img, physicalBlock(img, '/sub') * 1024 + 24, le32(999999)),
    message: /^fsconv: \/sub\/.*: directory entry points to inode 999999, out of range/,
  },
  {
    name: 'directory with two parents (f_dirlink)',
    corrupt: (img) => debugfsWrite(img, 'link /sub /sub2link'),
    message: /(reached a second time|link count)/,
  },
  {
    name: 'directory cycle',
    corrupt: (img) => debugfsWrite(img, 'link /sub /sub/loop'),
    message: /(reached a second time|link count)/,
  },
  {
    name: 'duplicate name in one directory (f_dup_de)',
    corrupt: (img) => {
      // debugfs refuses an existing name: link under a near name, then patch one byte of it.
      debugfsWrite(img, 'link /hello.txt /sub/nested.tx_');
      const at = physicalBlock(img, '/sub') * 1024;
      const block = readFileSync(img).subarray(at, at + 1024);
      patch(img, at + block.indexOf(Buffer.from('nested.tx_')) + 9, [0x74]);
    },
    message: /appears twice|link count/,
  },
  {
    name: 'zero blocks per group (divide by zero)',
    corrupt: (img) => debugfsWrite(img, 'ssv blocks_per_group 0'),
    message: /blocks per group/,
  },
  {
    name: 'inode table outside its group (f_misstable)',
    corrupt: (img) => debugfsWrite(img, 'set_bg 0 inode_table 99999999'),
    message: /group 0: inode table at block 99999999/,
  },
  {
    name: 'data block marked free in the bitmap',
    corrupt: (img) => debugfsWrite(img, `freeb ${physicalBlock(img, '/hello.txt')}`),
    message: /block \d+: is in use but marked free in the block bitmap/,
  },
  {
    name: 'a group marked uninitialised without gdt_csum (found by mutation fuzzing; e2fsck -fn complains)',
    corrupt: (img) => debugfsWrite(img, 'set_bg 0 flags 1'),
    message: /group 0: is marked uninitialised \(flags 0x1\) on a filesystem without gdt_csum or metadata_csum/,
  },
  {
    name: 'an unsupported feature (encrypt)',
    corrupt: (img) => debugfsWrite(img, 'feature encrypt'),
    message: /features not supported: encrypt/,
  },
  {
    name: 'an image truncated to half its size',
    corrupt: (img) => truncateSync(img, Math.floor(statSync(img).size / 2)),
    message: /device has only \d+ bytes/,
  },
  {
    name: 'a deleted inode still named (f_mke2fs2b: dtime set)',
    corrupt: (img) => debugfsWrite(img, 'sif /hello.txt dtime 12345'),
    message: /has a deletion time set/,
  },
  {
    name: 'wrong link count',
    corrupt: (img) => debugfsWrite(img, 'sif /hello.txt links_count 5'),
    message: /link count is 5, but 2 names point to it/,
  },
  // Mutation fuzzing found these accepted although e2fsck -fn fails on them ("Special
  // (device/socket/fifo) inode has non-zero size").
  {
    name: 'a fifo with a size',
    corrupt: (img) => debugfsWrite(img, 'sif /fifo size 100'),
    message: /is a fifo with a non-zero size \(100\)/,
  },
  {
    name: 'a device with a size',
    corrupt: (img) => debugfsWrite(img, 'sif /null size 4096'),
    message: /is a char with a non-zero size \(4096\)/,
  },
];

describe('lying images are refused in one line, untouched', () => {
  it('e2fsck -fn fails on the special files with a size too', () => {
    for (const c of cases.filter((x) => / with a size$/.test(x.name))) {
      const img = join(work, `e2fsck-${c.name.replace(/\W+/g, '_')}.img`);
      copyFileSync(clean, img);
      c.corrupt(img);
      expect(tryRun('e2fsck', ['-fn', img]).status, c.name).toBe(4);
    }
  });

  for (const c of cases) {
    it(c.name, async () => {
      const img = join(work, `${c.name.replace(/\W+/g, '_')}.img`);
      copyFileSync(clean, img);
      c.corrupt(img);
      const before = sha256File(img);
      for (const cmd of [['info', img], ['ls', '--json', img]]) {
        const r = await fsconv(cmd, { heapMiB: 96, timeoutMs: 30_000 });
        const line = expectOneLineRefusal(r);
        expect(line).toMatch(c.message);
      }
      expect(sha256File(img)).toBe(before);
    });
  }

  it('the uncorrupted image is accepted (the cases above fail for their corruption alone)', async () => {
    expect((await fsconv(['info', clean])).status).toBe(0);
    expect((await fsconv(['ls', '--json', clean])).stdout).toContain('"path":"/sub/nested.txt"');
  });
});
