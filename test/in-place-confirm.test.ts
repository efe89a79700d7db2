// On a terminal, convert asks before destroying anything; only an explicit yes goes ahead. The
// terminal is a real pseudo-terminal (util-linux `script`), the answer typed after the question.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fsckFatStrict } from './support/fat-validate.js';
import { FSCONV_BIN, REPO_ROOT, sha256File } from './support/fsconv.js';
import { requireTool } from './support/run.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fsconv-confirm-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs convert on a pseudo-terminal and types `answer` once the question is on screen. */
function onTerminal(img: string, answer: string): Promise<{ status: number | null; screen: string }> {
  const script = requireTool('script');
  const cmd = `${process.execPath} ${FSCONV_BIN} --from ext2 --to vfat+rights ${img} --tz UTC --quiet`;
  return new Promise((resolve, reject) => {
    const child = spawn(script, ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let answered = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no end after 30 s; screen so far:\n${screen}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString('utf8');
      if (!answered && screen.includes('[y/N]')) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, screen });
    });
  });
}

it('asks on a terminal: no and an unclear answer write nothing, yes converts', async () => {
  const sample = join(REPO_ROOT, 'fixtures', 'sample.ext2');
  for (const answer of ['n', 'maybe', '']) {
    const img = join(work, `no-${answer || 'empty'}.img`);
    copyFileSync(sample, img);
    const before = sha256File(img);
    const r = await onTerminal(img, answer);
    expect(r.screen).toMatch(/in place\? .*\[y\/N\]/);
    expect(r.screen).toMatch(/not confirmed: nothing was written/);
    expect(r.status).toBe(1);
    expect(sha256File(img)).toBe(before);
  }
  const img = join(work, 'yes.img');
  copyFileSync(sample, img);
  const r = await onTerminal(img, 'y');
  expect(r.status, r.screen).toBe(0);
  fsckFatStrict(img);
});
