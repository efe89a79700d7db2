// The benchmark's scenarios at each scale. `tree` is the generator's spec (trees.mjs); the image is
// sized from the planned tree (data blocks × 1.3 + inode tables + 64 MiB, rounded to 4 MiB) unless
// a fixed size is given; `skip` names the rows that are not measured, with the reason printed.
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

const sparseSkip = {
  rawRead: 'skipped: 1 TiB of holes; reading it measures the page cache zero-fill, not the filesystem',
  copyPath: 'skipped: would need a second 1 TiB FAT image for a few hundred MiB of files; the scenario is about memory vs device size',
};

export const SCENARIOS = {
  home: {
    description: 'a home directory: log-normal sizes (median 4 KiB), deep tree, long and UTF-8 names, symlinks',
    full: {
      tree: { kind: 'home', seed: 'home', files: 40000, dirs: 2500, maxDepth: 7, symlinks: 300, totalBytes: 1.5 * GiB, medianBytes: 4 * KiB, capBytes: 200 * MiB, perDir: 2000 },
    },
    small: {
      tree: { kind: 'home', seed: 'home-small', files: 1500, dirs: 100, maxDepth: 7, symlinks: 20, totalBytes: 40 * MiB, medianBytes: 4 * KiB, capBytes: 8 * MiB, perDir: 2000 },
    },
  },
  home4: {
    description: 'the home tree on ext4 as mke2fs makes it (journal, extents, flex_bg, 64bit, huge_file, dir_nlink, extra_isize, metadata_csum)',
    full: {
      fs: 'ext4',
      tree: { kind: 'home', seed: 'home', files: 40000, dirs: 2500, maxDepth: 7, symlinks: 300, totalBytes: 1.5 * GiB, medianBytes: 4 * KiB, capBytes: 200 * MiB, perDir: 2000 },
    },
    small: {
      fs: 'ext4',
      tree: { kind: 'home', seed: 'home-small', files: 1500, dirs: 100, maxDepth: 7, symlinks: 20, totalBytes: 40 * MiB, medianBytes: 4 * KiB, capBytes: 8 * MiB, perDir: 2000 },
    },
  },
  smallfiles: {
    description: 'many small files: uniform 0–8 KiB, 750 per directory, two levels',
    full: { tree: { kind: 'smallfiles', seed: 'smallfiles', files: 300000, perDir: 750, maxFileBytes: 8 * KiB } },
    small: { tree: { kind: 'smallfiles', seed: 'smallfiles-small', files: 5000, perDir: 750, maxFileBytes: 8 * KiB } },
  },
  sparse1t: {
    description: 'a sparse 1 TiB image (truncate -s 1T) holding a few thousand files: memory must not grow with the device',
    full: {
      tree: { kind: 'home', seed: 'sparse1t', files: 3000, dirs: 150, maxDepth: 6, symlinks: 30, totalBytes: 200 * MiB, medianBytes: 4 * KiB, capBytes: 50 * MiB, perDir: 2000 },
      imageBytes: 1 * TiB,
      skip: sparseSkip,
    },
    small: {
      tree: { kind: 'home', seed: 'sparse1t-small', files: 300, dirs: 20, maxDepth: 5, symlinks: 5, totalBytes: 10 * MiB, medianBytes: 4 * KiB, capBytes: 4 * MiB, perDir: 2000 },
      imageBytes: 2 * GiB,
      skip: {
        rawRead: sparseSkip.rawRead.replace('1 TiB', 'a sparse image (1 TiB at full scale)'),
        copyPath: sparseSkip.copyPath.replace('1 TiB', 'sparse'),
      },
    },
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS);

/** Image size and inode count for a scenario at a scale, from the planned tree's stats. */
export function imageParams(config, stats) {
  const groups = (bytes) => Math.ceil(bytes / (128 * MiB)); // 32768 blocks of 4 KiB per group
  if (config.imageBytes !== undefined) {
    // A fixed (large, sparse) size: few inodes per group keep the inode tables, which mke2fs
    // writes in full on ext2, small (16 per group = one 4 KiB block of 256-byte inodes).
    const inodes = Math.max(Math.ceil(stats.entries * 2) + 1024, 16 * groups(config.imageBytes));
    return { sizeBytes: config.imageBytes, inodes };
  }
  const inodes = Math.ceil(stats.entries * 1.2) + 1024;
  const raw = stats.dataBlocks * 4096 * 1.3 + inodes * 256 + 64 * MiB;
  const sizeBytes = Math.ceil(raw / (4 * MiB)) * 4 * MiB;
  return { sizeBytes, inodes };
}
