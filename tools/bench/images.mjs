// ext2 images of the generated trees with `mke2fs -d`, reproducibly where it matters:
// - a minimal MKE2FS_CONFIG (the host's /etc/mke2fs.conf does not count) and the features spelled
//   out as tools/make-sample-image.sh does: ext2, 4 KiB blocks, 256-byte inodes, an explicit inode
//   count (-N), 5 % reserved;
// - fixed UUID (-U), directory hash seed (-E hash_seed), mkfs time (E2FSPROGS_FAKE_TIME), LC_ALL=C
//   (mke2fs -d walks each directory in byte order), root owned by 1000:1000.
// mke2fs -d copies each inode's ctime from the host (which cannot be set) and atime from a stat made
// after reading the file; those bytes differ between builds. The layout (which blocks each file
// gets), names, sizes, contents, owners, modes and mtimes do not, and they are what the timings
// depend on.
// The image file is created sparse (truncate) first, so a large mostly empty filesystem (the
// 1 TiB scenario) takes only the space of its metadata and data.
import { closeSync, ftruncateSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { run } from './proc.mjs';

export const FEATURES = 'none,sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr';
/** ext4 as `mke2fs -t ext4` makes it on this mke2fs.conf (metadata_csum included). */
export const FEATURES_EXT4 = `${FEATURES},has_journal,extent,64bit,flex_bg,huge_file,dir_nlink,extra_isize,metadata_csum`;
export const BLOCK_SIZE = 4096;
export const INODE_SIZE = 256;
export const MKFS_TIME = 1735689600; // 2025-01-01 00:00:00 UTC

const CONFIG = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384

[fs_types]
	ext2 = {
		inode_size = 256
	}
	floppy = {
		inode_ratio = 8192
	}
	small = {
		inode_ratio = 4096
	}
	big = {
		inode_ratio = 32768
	}
	huge = {
		inode_ratio = 65536
	}
`;

/**
 * Builds `out` from the directory `src`: sizeBytes (a multiple of 4 KiB), inodes (-N). Then checks
 * it with e2fsck -fn (must be clean). Returns { imageBytes, allocatedBytes }.
 */
export async function buildExt2Image({ src, out, sizeBytes, inodes, uuid, hashSeed, label, configPath, fs = 'ext2' }) {
  writeFileSync(configPath, CONFIG);
  rmSync(out, { force: true });
  const fd = openSync(out, 'w');
  ftruncateSync(fd, sizeBytes);
  closeSync(fd);
  const env = { MKE2FS_CONFIG: configPath, E2FSPROGS_FAKE_TIME: String(MKFS_TIME), LC_ALL: 'C' };
  await run('mke2fs', [
    '-q', '-F', '-t', fs, '-b', String(BLOCK_SIZE), '-I', String(INODE_SIZE), '-N', String(inodes), '-m', '5',
    '-O', fs === 'ext4' ? FEATURES_EXT4 : FEATURES, '-U', uuid, '-E', `root_owner=1000:1000,hash_seed=${hashSeed},nodiscard`, '-L', label,
    '-d', src, out, String(sizeBytes / BLOCK_SIZE),
  ], { env });
  await run('e2fsck', ['-fn', out], { env: { LC_ALL: 'C', E2FSPROGS_FAKE_TIME: String(MKFS_TIME) } });
  const st = statSync(out);
  return { imageBytes: st.size, allocatedBytes: st.blocks * 512 };
}

/** A UUID-shaped string derived from a name (fixed per scenario). */
export function uuidFrom(hex) {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
