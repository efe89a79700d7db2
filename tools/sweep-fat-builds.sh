#!/usr/bin/env bash
# The whole FAT build matrix (CI runs a representative slice): every tree × source × target ×
# FAT type × cluster size. Combinations that cannot exist (e.g. FAT32 with 32 KiB clusters on
# 300 MiB) must be called infeasible by `check` and refused by `convert`, writing nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
node tools/setup.mjs
FSCONV_SWEEP=1 node_modules/.bin/vitest run test/fat-build.test.ts "$@"
