#!/usr/bin/env -S node --max-old-space-size=1024 --max-semi-space-size=32
// Thin launcher: the compiled CLI lives in dist/ (built by `pnpm build`).
// The heap cap in the first line (kept by pnpm's bin shim) is for peak memory: what fsconv keeps
// alive is small (a few objects per file), but with the default cap of a large machine V8 lets
// garbage pile up to several times that before collecting (measured: 600–850 MiB peak RSS on
// 300,000 files, 160–210 MiB with the cap; docs/performance.md). 1 GiB still leaves room for
// trees of millions of files. The larger young generation (32 MiB semi-spaces) lets a directory's
// worth of short-lived objects die young instead of being copied and promoted: about 20% faster
// on 300,000 files, for some 30 MiB more peak RSS.
import { main } from '../dist/main.js';
process.exitCode = await main(process.argv.slice(2));
