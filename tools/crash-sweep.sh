#!/usr/bin/env bash
# The in-place crash sweep at every write count (CI crashes at a spread of them): for each image,
# a crash after write 1, 2, … W of the conversion, killed and with a power cut, each followed by
# the same convert command (before the commit point: an intact ext2 with no marker) or by
# `fsconv resume` (after it: no ext2, and convert refuses), which must give the bytes of an
# uninterrupted conversion. See test/in-place-crash.test.ts.
#
#   tools/crash-sweep.sh                 # every image (small, traps, fat32): about 7 minutes on 2 cores
#   tools/crash-sweep.sh small           # one or more images by name (small: about 1 minute)
#   tools/crash-sweep.sh small -- -t kill   # extra vitest arguments after --
#
# Needs the workspace installed (pnpm run setup); builds the packages first (quick when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
images=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do images+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
node_modules/.bin/tsc -b
FSCONV_CRASH_SWEEP=1 FSCONV_CRASH_IMAGES="$(IFS=,; echo "${images[*]:-}")" \
  node_modules/.bin/vitest run test/in-place-crash.test.ts "$@"
