#!/usr/bin/env node
// The tests validate our output with real tools (e2fsprogs, dosfstools, mtools, util-linux).
// Install them when we can (root with apt-get); otherwise stop and say exactly what to run.
// Never skip silently: a test run without its validators proves nothing.
import { spawnSync } from 'node:child_process';

const needed = {
  mke2fs: 'e2fsprogs', e2fsck: 'e2fsprogs', debugfs: 'e2fsprogs', dumpe2fs: 'e2fsprogs',
  'fsck.fat': 'dosfstools', 'mkfs.fat': 'dosfstools',
  mcopy: 'mtools', mdir: 'mtools',
  sfdisk: 'fdisk', blkid: 'util-linux', wipefs: 'util-linux', losetup: 'mount', mount: 'mount', script: 'bsdutils', filefrag: 'e2fsprogs', bzip2: 'bzip2',
  // The kernel judge of FAT volumes (../shared/tools/uml-vfat): User-mode Linux, and insmod for its vfat modules.
  'linux.uml': 'user-mode-linux', insmod: 'kmod',
  // Extended attributes, ACLs, capabilities and flags set on loop-mounted sources (ext2-xattrs.test.ts).
  setfattr: 'attr', getfattr: 'attr', setfacl: 'acl', getfacl: 'acl', setcap: 'libcap2-bin', chattr: 'e2fsprogs',
  // GNU time, for tools/bench and the scale test's peak RSS (by its path: `command -v time` finds the shell's builtin).
  '/usr/bin/time': 'time',
};
const path = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH: path } }).status === 0;

const missing = Object.keys(needed).filter((c) => !has(c));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((c) => needed[c]))];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const command = `apt-get update && apt-get install -y ${pkgs.join(' ')}`;
if (!isRoot || !has('apt-get')) {
  console.error(`The tests need ${missing.join(', ')}. Install them first, as root:\n  ${command}`);
  process.exit(1);
}
console.error(`Installing test tools: ${pkgs.join(' ')}`);
const r = spawnSync('sh', ['-c', `${command} >/tmp/fsconv-apt.log 2>&1`], {
  stdio: 'inherit',
  env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
});
const still = Object.keys(needed).filter((c) => !has(c));
if (r.status !== 0 || still.length > 0) {
  console.error(`Could not install ${still.join(', ') || pkgs.join(' ')} (see /tmp/fsconv-apt.log). Run as root:\n  ${command}`);
  process.exit(1);
}
