// A device caught between the commit point and the end of a conversion is neither ext2 nor FAT:
// info and ls must say so and point at `fsconv resume`, which finishes it.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectOneLineRefusal, fsconv, REPO_ROOT, sha256File } from './support/fsconv.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-interrupted-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('info and ls on an interrupted conversion point at resume, which finishes it', async () => {
  const sample = join(REPO_ROOT, 'fixtures', 'sample.ext2');
  const ref = join(work, 'ref.img');
  copyFileSync(sample, ref);
  const args = (img: string) => ['--from', 'ext2', '--to', 'vfat+rights', img, '--yes', '--json', '--tz', 'UTC', '-q'];
  const done = await fsconv(args(ref));
  expect(done.status, done.stderr).toBe(0);
  const writes = (JSON.parse(done.stdout) as { deviceWrites: number }).deviceWrites;

  const img = join(work, 'mid.img');
  copyFileSync(sample, img);
  // Two writes before the end: after the commit point (the last writes are the commit's).
  const crashed = await fsconv(args(img), { env: { FSCONV_CRASH_AFTER_WRITES: String(writes - 2) } });
  expect(crashed.status).not.toBe(0);
  const before = sha256File(img);
  for (const cmd of [['info', img], ['ls', img]]) {
    const line = expectOneLineRefusal(await fsconv(cmd));
    expect(line).toMatch(/interrupted after its commit point: run 'fsconv resume /);
  }
  expect(sha256File(img)).toBe(before);
  const resumed = await fsconv(['resume', img]);
  expect(resumed.status, resumed.stderr).toBe(0);
  expect(sha256File(img)).toBe(sha256File(ref));
  expect((await fsconv(['info', img])).stdout).toMatch(/FAT\d+ with rights files/);
});
