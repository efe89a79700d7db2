/**
 * findMountUses / openExclusive / describeMountUses against real kernel objects (loop devices,
 * mounts, bind mounts; needs root), plus the mountinfo parser and the walk over partitions,
 * stacked devices and loop devices' backing files on synthetic /proc and /sys trees. Everything set up is torn down in afterEach,
 * and afterAll sweeps any mount or loop device still left under the test directory.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeviceError } from '../src/device.js';
import { openExclusive } from '../src/exclusive-open.js';
import { parseMountInfo } from '../src/mount-table.js';
import { describeMountUses, findMountUses, type MountUse } from '../src/mount-uses.js';

// ------------------------------------------------------------------------------------------------
// tools

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.error ? -1 : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message ?? '') };
}

function sh(cmd: string, ...args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function has(cmd: string): boolean {
  return run('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const canUseLoops =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  fs.existsSync('/dev/loop-control') &&
  ['losetup', 'mount', 'umount', 'mke2fs', 'mknod'].every(has);

/** The mount table as parsed by the code under test's parser (checked separately below). */
function mountTable() {
  return parseMountInfo(fs.readFileSync('/proc/self/mountinfo'));
}

// ------------------------------------------------------------------------------------------------
// parser and message: no kernel objects needed

describe('parseMountInfo', () => {
  it('reads the fields, the optional fields up to " - ", and octal escapes', () => {
    const text = [
      '36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
      '40 27 7:3 / /mnt/my\\040disk\\011tab\\134back rw,relatime shared:12 master:4 propagate_from:2 - ext2 /dev/loop3 rw',
      '41 27 0:50 / /srv rw - tmpfs none rw',
      '42 27 0:51 /sub\\012dir /x\\040y rw - fuse.sshfs user@host:/a\\040b rw,user_id=0',
      'garbage line',
      '43 27 8:1 / /no-separator rw ext4 /dev/sda1 rw',
      '44 27 x:1 / /bad-dev rw - ext4 /dev/sda1 rw',
      '',
    ].join('\n');
    const entries = parseMountInfo(text);
    expect(entries.map((e) => [e.id, e.parentId, e.majMin, e.root, e.mountPoint, e.fsType, e.source])).toEqual([
      [36, 35, '98:0', '/mnt1', '/mnt/parent', 'ext3', '/dev/root'],
      [40, 27, '7:3', '/', '/mnt/my disk\ttab\\back', 'ext2', '/dev/loop3'],
      [41, 27, '0:50', '/', '/srv', 'tmpfs', 'none'],
      [42, 27, '0:51', '/sub\ndir', '/x y', 'fuse.sshfs', 'user@host:/a b'],
    ]);
  });

  it('keeps bytes that are not UTF-8 in the source, and decodes UTF-8 mount points', () => {
    const line = Buffer.concat([
      Buffer.from('50 27 8:2 / /media/caf\u00e9 rw - vfat /dev/odd', 'utf8'),
      Buffer.from([0xff]),
      Buffer.from(' rw\n'),
    ]);
    const [e] = parseMountInfo(line);
    expect(e?.mountPoint).toBe('/media/caf\u00e9');
    expect([...e!.sourceBytes]).toEqual([...Buffer.from('/dev/odd'), 0xff]);
  });
});

describe('describeMountUses', () => {
  it('says how to release the device, in one line', () => {
    expect(describeMountUses('/dev/sdb1', [{ kind: 'mounted', mountPoint: '/media/x', source: '/dev/sdb1', via: 'mounted directly' }])).toBe(
      '/dev/sdb1 is mounted on /media/x: unmount it first',
    );
    expect(
      describeMountUses('disk.img', [{ kind: 'mounted', mountPoint: '/mnt', source: '/dev/loop3', via: 'through loop device /dev/loop3' }]),
    ).toBe('disk.img is mounted on /mnt through loop device /dev/loop3: unmount it and detach the loop device first');
    expect(
      describeMountUses('disk.img', [
        { kind: 'attached', mountPoint: '', source: '/dev/loop5', via: 'attached to loop device /dev/loop5, not mounted' },
      ]),
    ).toBe('disk.img is attached to loop device /dev/loop5, not mounted: detach the loop device first (losetup -d /dev/loop5)');
    const several: MountUse[] = [
      { kind: 'mounted', mountPoint: '/a', source: '/dev/sdb1', via: 'mounted directly' },
      { kind: 'mounted', mountPoint: '/b c', source: '/dev/sdb1', via: 'mounted directly' },
      { kind: 'swap', mountPoint: '[swap]', source: '/dev/loop1', via: 'through loop device /dev/loop1' },
      { kind: 'attached', mountPoint: '', source: '/dev/loop2', via: 'attached to loop device /dev/loop2, not mounted' },
    ];
    const msg = describeMountUses('/dev/sdb1', several);
    expect(msg).toBe(
      '/dev/sdb1 is mounted on /a and "/b c"; in use as swap space through loop device /dev/loop1; ' +
        'attached to loop device /dev/loop2, not mounted: unmount it, turn the swap off (swapoff) and detach the loop devices first',
    );
    expect(msg).not.toContain('\n');
    expect(describeMountUses('x', [{ kind: 'mounted', mountPoint: '/m\nn', source: '/dev/x', via: 'mounted directly' }])).toBe(
      'x is mounted on "/m\\nn": unmount it first',
    );
  });
});

// ------------------------------------------------------------------------------------------------
// real kernel objects

describe.skipIf(!canUseLoops)('on real loop devices and mounts', () => {
  let dir = '';
  const cleanups: (() => void)[] = [];

  function runCleanups(): void {
    const errors: string[] = [];
    while (cleanups.length > 0) {
      try {
        cleanups.pop()!();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length > 0) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }

  /** Unmounts everything under `dir` and detaches every loop device backed by a file under it. */
  function sweep(): void {
    if (!dir) return;
    const under = (p: string) => p === dir || p.startsWith(dir + '/');
    for (const m of mountTable().reverse()) {
      if (under(m.mountPoint) && run('umount', [m.mountPoint]).status !== 0) run('umount', ['-l', m.mountPoint]);
    }
    for (const name of fs.existsSync('/sys/block') ? fs.readdirSync('/sys/block') : []) {
      if (!/^loop\d+$/.test(name)) continue;
      let backing = '';
      try {
        backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      } catch {
        continue;
      }
      if (under(backing.replace(/ \(deleted\)$/, ''))) run('losetup', ['-d', `/dev/${name}`]);
    }
  }

  const later = (f: () => void) => cleanups.push(f);

  function image(name: string): string {
    const img = path.join(dir, name);
    sh('mke2fs', '-q', '-F', '-t', 'ext2', img, '8M');
    return img;
  }

  function mkdir(name: string): string {
    const p = path.join(dir, name);
    fs.mkdirSync(p, { recursive: true });
    return p;
  }

  function mount(args: string[], mountPoint: string): void {
    sh('mount', ...args, mountPoint);
    later(() => {
      if (run('umount', [mountPoint]).status !== 0) sh('umount', '-l', mountPoint);
    });
  }

  /** Mounts `img` with `mount -o loop`; returns the loop device the kernel shows in mountinfo. */
  function mountLoop(img: string, mountPoint: string): string {
    mount(['-o', 'loop', img], mountPoint);
    const entry = mountTable().find((m) => m.mountPoint === mountPoint);
    expect(entry?.source).toMatch(/^\/dev\/loop\d+$/);
    expect(entry?.majMin).toMatch(/^7:\d+$/);
    const loop = entry!.source;
    later(() => {
      // mount -o loop sets autoclear; make sure anyway.
      if (fs.existsSync(`/sys/block/${path.basename(loop)}/loop/backing_file`)) run('losetup', ['-d', loop]);
    });
    return loop;
  }

  function attach(img: string): string {
    const loop = sh('losetup', '-f', '--show', img);
    later(() => sh('losetup', '-d', loop));
    return loop;
  }

  beforeAll(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fsconv-mounts-')));
  });
  afterEach(() => runCleanups());
  afterAll(() => {
    try {
      runCleanups();
    } finally {
      sweep();
      const left = mountTable().filter((m) => m.mountPoint.startsWith(dir + '/'));
      // Never delete recursively through a mount that is still there.
      if (left.length === 0) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an image that is not mounted nor attached has no uses', () => {
    const img = image('plain.img');
    expect(findMountUses(img)).toEqual([]);
  });

  it('finds an image mounted with mount -o loop (by device and inode of the backing file)', () => {
    const img = image('loop.img');
    const mp = mkdir('mnt');
    const loop = mountLoop(img, mp);
    expect(fs.readFileSync(`/sys/block/${path.basename(loop)}/loop/backing_file`, 'utf8').trim()).toBe(img);
    const expected: MountUse[] = [{ kind: 'mounted', mountPoint: mp, source: loop, via: `through loop device ${loop}` }];
    expect(findMountUses(img)).toEqual(expected);
    // A relative path names the same file.
    const rel = path.relative(process.cwd(), img);
    expect(findMountUses(rel)).toEqual(expected);
    expect(describeMountUses('loop.img', expected)).toBe(
      `loop.img is mounted on ${mp} through loop device ${loop}: unmount it and detach the loop device first`,
    );
    // Without losetup, the path sysfs shows still identifies it (stat of that path).
    expect(findMountUses(img, { useLosetup: false })).toEqual(expected);
    // The loop device itself is mounted directly.
    const direct = findMountUses(loop);
    expect(direct).toEqual([{ kind: 'mounted', mountPoint: mp, source: loop, via: 'mounted directly' }]);
    expect(describeMountUses(loop, direct)).toBe(`${loop} is mounted on ${mp}: unmount it first`);
  });

  it('reports a loop device attached to the image but not mounted', () => {
    const img = image('attached.img');
    const loop = attach(img);
    const uses = findMountUses(img);
    expect(uses).toEqual([{ kind: 'attached', mountPoint: '', source: loop, via: `attached to loop device ${loop}, not mounted` }]);
    expect(describeMountUses(img, uses)).toBe(
      `${img} is attached to loop device ${loop}, not mounted: detach the loop device first (losetup -d ${loop})`,
    );
    // The loop device itself is not in use.
    expect(findMountUses(loop)).toEqual([]);
  });

  it('finds every mount of the loop device, and a second loop device on the same image', () => {
    const img = image('twice.img');
    const mp1 = mkdir('twice-a');
    const mp2 = mkdir('twice-b');
    const loop = mountLoop(img, mp1);
    mount(['--bind', mp1], mp2);
    const other = attach(img);
    const uses = findMountUses(img);
    expect(uses).toHaveLength(3);
    expect(uses).toEqual(
      expect.arrayContaining([
        { kind: 'mounted', mountPoint: mp1, source: loop, via: `through loop device ${loop}` },
        { kind: 'mounted', mountPoint: mp2, source: loop, via: `through loop device ${loop}` },
        { kind: 'attached', mountPoint: '', source: other, via: `attached to loop device ${other}, not mounted` },
      ]),
    );
    expect(describeMountUses('twice.img', uses)).toBe(
      `twice.img is mounted on ${mp1} and ${mp2} through loop device ${loop}; attached to loop device ${other}, not mounted: ` +
        'unmount it and detach the loop devices first',
    );
  });

  it('finds the image through a symlink, a hard link and a bind-mounted directory', () => {
    const sub = mkdir('images');
    const img = path.join(sub, 'linked.img');
    sh('mke2fs', '-q', '-F', '-t', 'ext2', img, '8M');
    const mp = mkdir('linked-mnt');
    const loop = mountLoop(img, mp);
    const expected: MountUse[] = [{ kind: 'mounted', mountPoint: mp, source: loop, via: `through loop device ${loop}` }];

    const symlink = path.join(dir, 'symlink.img');
    fs.symlinkSync(img, symlink);
    const hardlink = path.join(dir, 'hardlink.img');
    fs.linkSync(img, hardlink);
    const bound = mkdir('images-bound');
    mount(['--bind', sub], bound);

    expect(findMountUses(symlink)).toEqual(expected);
    expect(findMountUses(hardlink)).toEqual(expected);
    expect(findMountUses(path.join(bound, 'linked.img'))).toEqual(expected);
    // A copy is another file.
    const copy = path.join(dir, 'copy.img');
    fs.copyFileSync(img, copy);
    expect(findMountUses(copy)).toEqual([]);
  });

  it('does not trust the name sysfs shows: deleted names and names that now lead elsewhere', () => {
    // The name the loop device was set up with is deleted; a hard link remains.
    const img = image('gone.img');
    const keep = path.join(dir, 'kept.img');
    fs.linkSync(img, keep);
    const loop = attach(img);
    fs.unlinkSync(img);
    expect(fs.readFileSync(`/sys/block/${path.basename(loop)}/loop/backing_file`, 'utf8').trim()).toBe(`${img} (deleted)`);
    expect(findMountUses(keep)).toEqual([{ kind: 'attached', mountPoint: '', source: loop, via: `attached to loop device ${loop}, not mounted` }]);
    // A new file at the old name is not the one attached.
    image('gone.img');
    expect(findMountUses(img)).toEqual([]);

    // The directory is covered by another mount: the name now leads to a different file, while the
    // attached file is reachable only through an earlier bind mount.
    const sub = mkdir('covered');
    const covered = path.join(sub, 'disk.img');
    sh('mke2fs', '-q', '-F', '-t', 'ext2', covered, '8M');
    const alias = mkdir('covered-alias');
    mount(['--bind', sub], alias);
    const loop2 = attach(covered);
    mount(['-t', 'tmpfs', 'fsconv-test-tmpfs'], sub);
    fs.writeFileSync(covered, 'not the attached file');
    expect(fs.readFileSync(`/sys/block/${path.basename(loop2)}/loop/backing_file`, 'utf8').trim()).toBe(covered);
    expect(findMountUses(path.join(alias, 'disk.img'))).toEqual([
      { kind: 'attached', mountPoint: '', source: loop2, via: `attached to loop device ${loop2}, not mounted` },
    ]);
    expect(findMountUses(covered)).toEqual([]);
  });

  it('decodes a mount point with spaces, a tab and a backslash', () => {
    const img = image('odd.img');
    const mp = mkdir('my disk\tand\\more');
    const loop = mountLoop(img, mp);
    const raw = fs.readFileSync('/proc/self/mountinfo', 'latin1');
    expect(raw).toContain('my\\040disk\\011and\\134more');
    const uses = findMountUses(img);
    expect(uses).toEqual([{ kind: 'mounted', mountPoint: mp, source: loop, via: `through loop device ${loop}` }]);
    const msg = describeMountUses(img, uses);
    expect(msg).toBe(`${img} is mounted on ${JSON.stringify(mp)} through loop device ${loop}: unmount it and detach the loop device first`);
    expect(msg).not.toContain('\t');
  });

  it('openExclusive refuses a mounted block device and opens an unmounted one or a regular file', () => {
    const img = image('excl.img');
    const mp = mkdir('excl-mnt');
    const loop = mountLoop(img, mp);
    let err: unknown;
    try {
      fs.closeSync(openExclusive(loop));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as Error).message).toBe(
      `${loop} is in use (mounted, used as swap, or held by another program or device): unmount or release it first`,
    );

    const img2 = image('excl2.img');
    const loop2 = attach(img2);
    const fd = openExclusive(loop2);
    try {
      expect(fs.fstatSync(fd).isBlockDevice()).toBe(true);
      // While held exclusively, the kernel refuses to mount it.
      const mp2 = mkdir('excl-mnt2');
      const r = run('mount', [loop2, mp2]);
      if (r.status === 0) later(() => sh('umount', mp2));
      expect(r.status).not.toBe(0);
    } finally {
      fs.closeSync(fd);
    }

    const fileFd = openExclusive(img2);
    try {
      expect(fs.fstatSync(fileFd).isFile()).toBe(true);
      expect(fs.writeSync(fileFd, Buffer.from([0]), 0, 1, 1024 * 1024)).toBe(1);
    } finally {
      fs.closeSync(fileFd);
    }

    expect(() => openExclusive(path.join(dir, 'missing.img'))).toThrow(`cannot open ${path.join(dir, 'missing.img')}: no such file or device`);
    expect(() => openExclusive(dir)).toThrow(`${dir} is neither a regular file nor a block device`);
    expect(() => findMountUses(path.join(dir, 'missing.img'))).toThrow(DeviceError);
  });

  it('walks partitions, device-mapper holders and loop devices on a block device (synthetic sysfs)', () => {
    // A block device node with a major number no driver uses; its sysfs tree is made up.
    const node = path.join(dir, 'fake-disk');
    sh('mknod', node, 'b', '240', '0');
    const sys = mkdir('sys');
    const put = (p: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(sys, p)), { recursive: true });
      fs.writeFileSync(path.join(sys, p), text);
    };
    put('dev/block/240:0/dev', '240:0\n');
    put('dev/block/240:0/fake1/partition', '1\n');
    put('dev/block/240:0/fake1/dev', '240:1\n');
    put('dev/block/240:0/queue/rotational', '0\n');
    fs.mkdirSync(path.join(sys, 'dev/block/240:0/holders/dm-9'), { recursive: true });
    put('class/block/dm-9/dev', '253:9\n');
    put('class/block/dm-9/dm/name', 'vg-data\n');
    put('block/loop9/dev', '7:9\n');
    put('block/loop9/loop/backing_file', `${node}\n`);
    put('block/loop10/dev', '7:10\n');
    put('block/loop10/loop/backing_file', `${node}\n`);
    put('dev/block/7:9/loop9p2/partition', '2\n');
    put('dev/block/7:9/loop9p2/dev', '259:2\n');
    put('block/loop11/dev', '7:11\n'); // unbound: no backing_file
    const mountinfo = path.join(dir, 'mountinfo');
    fs.writeFileSync(
      mountinfo,
      [
        '1 0 8:0 / / rw - ext4 /dev/sda rw',
        '2 1 240:1 / /media/part\\040one rw shared:1 - ext2 /dev/fake1 rw',
        '3 1 253:9 / /media/dm rw - ext2 /dev/mapper/vg-data rw',
        '4 1 259:2 / /media/loop-part rw - ext2 /dev/loop9p2 rw',
        '',
      ].join('\n'),
    );
    const swaps = path.join(dir, 'swaps');
    fs.writeFileSync(swaps, `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${node}  partition\t1024\t0\t-2\n`);

    const uses = findMountUses(node, { sysfs: sys, mountInfo: mountinfo, swaps, useLosetup: false });
    expect(uses).toEqual([
      { kind: 'swap', mountPoint: '[swap]', source: node, via: 'as swap space' },
      { kind: 'mounted', mountPoint: '/media/part one', source: '/dev/fake1', via: 'through partition /dev/fake1' },
      { kind: 'mounted', mountPoint: '/media/dm', source: '/dev/mapper/vg-data', via: 'through device-mapper device /dev/mapper/vg-data' },
      { kind: 'mounted', mountPoint: '/media/loop-part', source: '/dev/loop9p2', via: 'through partition /dev/loop9p2 on loop device /dev/loop9' },
      { kind: 'attached', mountPoint: '', source: '/dev/loop10', via: 'attached to loop device /dev/loop10, not mounted' },
    ]);
    expect(describeMountUses(node, uses)).toMatch(/^\S+ is in use as swap space; mounted on "\/media\/part one" through partition \/dev\/fake1; .* and 2 more: unmount it, turn the swap off \(swapoff\) and detach the loop devices first$/);

    // A machine without loop devices (no sysfs loop entries, no swaps file): no uses, no error.
    const empty = mkdir('empty-sys');
    const file = image('no-loops.img');
    expect(findMountUses(file, { sysfs: empty, mountInfo: mountinfo, swaps: path.join(dir, 'none'), useLosetup: false })).toEqual([]);
    expect(findMountUses(file, { sysfs: path.join(dir, 'no-sys-at-all'), mountInfo: mountinfo, useLosetup: false })).toEqual([]);
    // An unreadable mount table is an error: the caller cannot know.
    expect(() => findMountUses(file, { mountInfo: path.join(dir, 'no-mountinfo') })).toThrow(/cannot check whether .* is mounted/);
  });

  it('a loop device is its backing file: the other loop devices of that file, and the block device it is on (synthetic sysfs)', () => {
    const sys = mkdir('sys-loops');
    const put = (p: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(sys, p)), { recursive: true });
      fs.writeFileSync(path.join(sys, p), text);
    };
    // Nodes with loop major numbers whose minors no real loop device uses here; their sysfs is made up.
    const node = (minor: number): string => {
      const p = path.join(dir, `fake-loop${minor}`);
      sh('mknod', p, 'b', '7', String(minor));
      return p;
    };
    const file = image('shared.img');
    const target = node(200);
    for (const n of [200, 201, 202, 203]) {
      put(`block/loop${n}/dev`, `7:${n}\n`);
      put(`block/loop${n}/loop/backing_file`, `${file}\n`);
    }
    put('dev/block/7:202/loop202p1/partition', '1\n');
    put('dev/block/7:202/loop202p1/dev', '259:7\n');
    // Another image, not shared: its loop device is no use of the target.
    const unrelated = image('unrelated.img');
    put('block/loop210/dev', '7:210\n');
    put('block/loop210/loop/backing_file', `${unrelated}\n`);
    // Loop devices on a block device.
    const disk = path.join(dir, 'fake-disk-2');
    sh('mknod', disk, 'b', '240', '16');
    const onDisk = node(204);
    for (const n of [204, 205]) {
      put(`block/loop${n}/dev`, `7:${n}\n`);
      put(`block/loop${n}/loop/backing_file`, `${disk}\n`);
    }
    const mountinfo = path.join(dir, 'mountinfo-loops');
    fs.writeFileSync(
      mountinfo,
      [
        '1 0 8:0 / / rw - ext4 /dev/sda rw',
        '2 1 7:201 / /media/other rw - ext2 /dev/loop201 ro',
        '3 1 259:7 / /media/part rw - ext2 /dev/loop202p1 rw',
        '4 1 7:210 / /media/unrelated rw - ext2 /dev/loop210 rw',
        '5 1 240:16 / /media/disk rw - ext2 /dev/fake-disk-2 rw',
        '',
      ].join('\n'),
    );
    const opts = { sysfs: sys, mountInfo: mountinfo, swaps: path.join(dir, 'no-swaps'), useLosetup: false };

    const uses = findMountUses(target, opts);
    expect(uses).toEqual([
      { kind: 'mounted', mountPoint: '/media/other', source: '/dev/loop201', via: `through loop device /dev/loop201 on its backing file ${file}` },
      {
        kind: 'mounted', mountPoint: '/media/part', source: '/dev/loop202p1',
        via: `through partition /dev/loop202p1 on loop device /dev/loop202 on its backing file ${file}`,
      },
      { kind: 'attached', mountPoint: '', source: '/dev/loop203', via: `attached to loop device /dev/loop203 too (its backing file ${file}), not mounted` },
    ]);
    expect(describeMountUses(target, uses)).toBe(
      `${target} is mounted on /media/other through loop device /dev/loop201 on its backing file ${file}; ` +
        `mounted on /media/part through partition /dev/loop202p1 on loop device /dev/loop202 on its backing file ${file}; ` +
        `attached to loop device /dev/loop203 too (its backing file ${file}), not mounted: unmount it and detach the loop devices first`,
    );
    // The file itself sees all four loop devices (the target's own as attached).
    expect(findMountUses(file, opts).map((u) => [u.kind, u.source])).toEqual([
      ['attached', '/dev/loop200'], ['mounted', '/dev/loop201'], ['mounted', '/dev/loop202p1'], ['attached', '/dev/loop203'],
    ]);

    // A loop device on a block device: that device's uses, and the other loop devices on it.
    expect(findMountUses(onDisk, opts)).toEqual([
      { kind: 'mounted', mountPoint: '/media/disk', source: '/dev/fake-disk-2', via: `through its backing device ${disk}` },
      { kind: 'attached', mountPoint: '', source: '/dev/loop205', via: `attached to loop device /dev/loop205, not mounted (through its backing device ${disk})` },
    ]);

    // Alone on its file, a loop device has no uses (it is never 'attached' to itself).
    const alone = image('alone.img');
    const lonely = node(206);
    put('block/loop206/dev', '7:206\n');
    put('block/loop206/loop/backing_file', `${alone}\n`);
    expect(findMountUses(lonely, opts)).toEqual([]);
  });
});
