// e2fsprogs' own test images (../shared/corpus/e2fsprogs, never copied into this repo): real
// filesystems written by others, most of them corrupt or using ext4 features. fsconv must accept
// exactly the ones e2fsck -fn finds clean and whose features are supported (and then list what
// debugfs lists), refuse every other one in one line, never crash or hang, and never change them.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineRefusal, fsconv, sha256File } from './support/fsconv.js';
import { parseLsJsonLines, sortEntries } from './support/ls-entry.js';
import { debugfsView } from './support/reference-view.js';
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
        const ours = sortEntries(parseLsJsonLines(ls.stdout));
        await tick(0);
        const theirs = sortEntries(debugfsView(img).entries);
        expect(ours).toEqual(theirs);
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
