// The package rules of docs/architecture.md, checked on the sources: core (the orchestrator)
// depends on base and device only and imports no format; no format package depends on another;
// base depends on nothing of ours. Both the declared dependencies (package.json) and every import
// of every source file (static, dynamic and type-only: a type import is a dependency too) count,
// and no source reaches into another package by a relative path.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What each package may use of ours. The CLI wires everything together. */
const ALLOWED: Record<string, string[]> = {
  base: [],
  device: ['base'],
  partition: ['base'],
  'ext2fs-reader': ['base'],
  fat: ['base', 'device'],
  core: ['base', 'device'],
  cli: ['base', 'device', 'partition', 'ext2fs-reader', 'fat', 'core'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports or re-exports, type-only and dynamic imports included. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

describe('package boundaries', () => {
  it('every package is known to the rules', () => {
    const dirs = readdirSync(PACKAGES).filter((n) => statSync(join(PACKAGES, n, 'package.json'), { throwIfNoEntry: false }) !== undefined);
    expect(dirs.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  for (const [pkg, allowed] of Object.entries(ALLOWED)) {
    it(`${pkg} depends on ${allowed.length === 0 ? 'no other package of ours' : allowed.join(', ')} only`, () => {
      const manifest = JSON.parse(readFileSync(join(PACKAGES, pkg, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
      const declared = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies })
        .filter((d) => d.startsWith('@fsconv/')).map((d) => d.slice('@fsconv/'.length));
      expect(declared.filter((d) => !allowed.includes(d)), `${pkg}/package.json`).toEqual([]);
      const root = join(PACKAGES, pkg, 'src');
      const bad: string[] = [];
      for (const file of sources(root)) {
        for (const s of specifiers(file)) {
          const where = relative(PACKAGES, file);
          if (s.startsWith('@fsconv/')) {
            const used = s.slice('@fsconv/'.length).split('/')[0]!;
            if (!allowed.includes(used)) bad.push(`${where} imports ${s}`);
          } else if (s.startsWith('.') && !resolve(dirname(file), s).startsWith(root)) {
            bad.push(`${where} reaches outside its package: ${s}`);
          }
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('the rule bites: every kind of import is seen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fsconv-boundaries-'));
    try {
      const probe = join(dir, 'probe.ts');
      writeFileSync(probe, [
        "import { Ext2Volume } from '@fsconv/ext2fs-reader';",
        'import type {', '  Geometry,', "} from '@fsconv/fat';",
        "export { crc32 } from '@fsconv/base';",
        "import '@fsconv/partition';",
        "const m = await import('@fsconv/cli');",
      ].join('\n'));
      expect(specifiers(probe).sort()).toEqual(['@fsconv/base', '@fsconv/cli', '@fsconv/ext2fs-reader', '@fsconv/fat', '@fsconv/partition']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
