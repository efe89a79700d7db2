// Mistakes on the command line: refused in one line (exit 1) or as usage (exit 2), nothing written.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectOneLineRefusal, fsconv, REPO_ROOT, sha256File } from './support/fsconv.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('a new image over its own source is refused before anything is written', async () => {
  const img = join(work, 'same.img');
  copyFileSync(join(REPO_ROOT, 'fixtures', 'sample.ext2'), img);
  const before = sha256File(img);
  const line = expectOneLineRefusal(await fsconv(['--from', 'ext2', '--to', 'vfat', img, '--output', img]));
  expect(line).toMatch(/is the source itself/);
  expect(sha256File(img)).toBe(before);
});

it('a new image inside the directory being converted is refused', async () => {
  const dir = join(work, 'src');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a'), 'x');
  const out = join(dir, 'out.img');
  const line = expectOneLineRefusal(await fsconv(['--from', 'dir', '--to', 'vfat', dir, '--output', out, '--size', '2M']));
  expect(line).toMatch(/inside the source directory/);
  expect(existsSync(out)).toBe(false);
});

it('usage mistakes exit 2 with a pointer to --help', async () => {
  for (const args of [['frobnicate', 'x'], ['info'], ['--from', 'ext2', '--to', 'ntfs', 'x'], []]) {
    const r = await fsconv(args);
    expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toMatch(/fsconv --help/);
  }
});
