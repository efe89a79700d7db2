#!/usr/bin/env bash
# Builds fixtures/sample.ext2: a small ext2 image (2 MiB, 1 KiB blocks, 128-byte inodes, label
# fsconv-sample) with a handful of interesting entries, byte-for-byte reproducibly:
#   - fixed UUID (-U), directory hash seed (-E hash_seed) and mkfs time (E2FSPROGS_FAKE_TIME:
#     superblock times, lost+found, reserved inodes);
#   - every entry's owner, mode, atime and mtime set explicitly (touch -h -d); mke2fs -d copies
#     the host *ctime* (which cannot be set), so every inode's ctime is then set to the mkfs time
#     with debugfs -w;
#   - the local mke2fs.conf replaced by a minimal one, and the features spelled out;
#   - LC_ALL=C, so mke2fs -d's sorted directory walk uses byte order;
#   - the tree is read through a read-only noatime bind mount, so reading it cannot change
#     the atimes mke2fs copies.
# Needs root (owners, bind mount) and e2fsprogs (mke2fs, debugfs, dumpe2fs, e2fsck).
#
# Usage: tools/make-sample-image.sh [OUTPUT]   (default: fixtures/sample.ext2 in the repository)
set -euo pipefail

export LC_ALL=C
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/fixtures/sample.ext2}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

for tool in mke2fs e2fsck debugfs dumpe2fs mount umount truncate; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "make-sample-image: '$tool' is missing; install it as root with:" >&2
    echo "  apt-get update && apt-get install -y e2fsprogs dosfstools mtools" >&2
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "make-sample-image: run as root (it sets owners and bind-mounts the tree read-only)" >&2
  exit 1
fi

UUID=5a3c7e10-2b4d-4f6a-8c9e-0123456789ab
HASH_SEED=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
MKFS_TIME=1700000000 # 2023-11-14 22:13:20 UTC
FEATURES=none,sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr

work="$(mktemp -d "${TMPDIR:-/tmp}/fsconv-sample.XXXXXX")"
src="$work/src"
view="$work/view"
mounted=0
cleanup() {
  if [ "$mounted" = 1 ]; then umount "$view" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

umask 022
mkdir -p "$src" "$view"
cd "$src"

# --- content -------------------------------------------------------------------------------
cat > README.txt <<'TEXT'
fsconv sample image
===================
A small ext2 filesystem with a few interesting entries: text files, a subdirectory,
fast and slow symbolic links, a hard link, a fifo, a UTF-8 file name and a file with holes.
TEXT
printf 'Hello, ext2!\n' > hello.txt
mkdir -p docs/nested
printf '# Notes\n\n- ext2 has 12 direct block pointers\n- then IND, DIND and TIND blocks\n' > docs/notes.md
printf 'deep inside\n' > docs/nested/deep.txt
ln hello.txt docs/hello-hardlink.txt                                    # hard link: 2 names, 1 inode
ln -s hello.txt link-fast                                               # fast symlink (< 60 bytes)
ln -s ././././././././././././././././././././././././././././docs/nested/deep.txt link-slow  # 76 bytes
mkfifo fifo
printf 'Grüße aus Köln — 日本語のファイル名\n' > 'café-日本語.txt'
# 300 KiB with data in blocks 0 and 200 only: holes in the middle and at the end.
printf 'start of a sparse file\n' > sparse.bin
printf 'middle of a sparse file\n' | dd of=sparse.bin bs=1024 seek=200 conv=notrunc status=none
truncate -s 300K sparse.bin

# --- owners, modes, times ------------------------------------------------------------------
chown -hR 0:0 .
chown -h 1000:1000 docs/notes.md
chmod 0755 . docs docs/nested
chmod 0644 README.txt hello.txt docs/nested/deep.txt fifo 'café-日本語.txt' sparse.bin
chmod 0600 docs/notes.md
# Files and links first, directories last (creating entries changes a directory's times).
t() { touch -h -d "@$1" "${@:2}"; }
t 1704164645 README.txt            # 2024-01-02 03:04:05 UTC
t 1704164700 hello.txt             # (also docs/hello-hardlink.txt)
t 1704164800 docs/notes.md
t 1704164900 docs/nested/deep.txt
t 1704165000 link-fast
t 1704165100 link-slow
t 1704165200 fifo
t 1704165300 'café-日本語.txt'
t 1704165400 sparse.bin
t 1704166000 docs/nested
t 1704166100 docs
t 1704166200 .

# --- image ---------------------------------------------------------------------------------
# (mke2fs warns about usage types whose stanza is missing or empty.)
cat > "$work/mke2fs.conf" <<'CONF'
[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	blocksize = 1024
	inode_size = 128
	inode_ratio = 8192

[fs_types]
	ext2 = {
		inode_size = 128
	}
	floppy = {
		inode_ratio = 8192
	}
	small = {
		inode_ratio = 8192
	}
CONF

mount --bind "$src" "$view"
mounted=1
mount -o remount,bind,ro,noatime "$view"

mkdir -p "$(dirname "$out")"
rm -f "$out"
MKE2FS_CONFIG="$work/mke2fs.conf" E2FSPROGS_FAKE_TIME=$MKFS_TIME \
  mke2fs -q -t ext2 -b 1024 -I 128 -N 64 -m 5 -O "$FEATURES" \
    -U "$UUID" -E "root_owner=0:0,hash_seed=$HASH_SEED" -L fsconv-sample \
    -d "$view" -F "$out" 2048k >"$work/mke2fs.err" 2>&1 \
  || { cat "$work/mke2fs.err" >&2; exit 1; }
grep -v -e '128-byte inodes cannot handle dates beyond 2038' -e '^Creating regular file' "$work/mke2fs.err" >&2 || true

umount "$view"
mounted=0

# ctime: the root and every inode from the first non-reserved one (11, lost+found) that is in use.
inodes=$(dumpe2fs -h "$out" 2>/dev/null | sed -n 's/^Inode count: *//p')
for i in $(seq 11 "$inodes"); do echo "testi <$i>"; done > "$work/testi"
{
  echo "sif <2> ctime @$MKFS_TIME"
  debugfs -f "$work/testi" "$out" 2>/dev/null |
    sed -n "s/^Inode \\([0-9]*\\) is marked in use\$/sif <\\1> ctime @$MKFS_TIME/p"
} > "$work/ctime"
E2FSPROGS_FAKE_TIME=$MKFS_TIME debugfs -w -f "$work/ctime" "$out" >/dev/null 2>"$work/debugfs.err"
if grep -v '^debugfs [0-9]' "$work/debugfs.err" >&2; then
  echo "make-sample-image: debugfs -w reported errors" >&2
  exit 1
fi

if ! e2fsck -fn "$out" >"$work/e2fsck.out" 2>&1; then
  echo "make-sample-image: e2fsck -fn $out is not clean:" >&2
  cat "$work/e2fsck.out" >&2
  exit 1
fi
sha256sum "$out"
