/**
 * partitionDeviceOf on made-up sysfs trees shaped as the kernel's (a disk directory holding its
 * partitions' directories, /sys/dev/block/MAJ:MIN links into them) with device nodes made by mknod
 * under major numbers no driver uses: this machine's kernel creates no partition devices. Needs root
 * (mknod).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeviceError } from '../src/device.js';
import { partitionDeviceOf } from '../src/partition-device.js';

let dir = '';
beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fsconv-partdev-')));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function mknod(p: string, major: number, minor: number): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const r = spawnSync('mknod', [p, 'b', String(major), String(minor)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mknod ${p} failed (needs root): ${r.stderr}`);
  return p;
}

/** A sysfs tree with disk `name` (240:base) and its partitions, as the kernel lays it out. */
function sysfsTree(root: string, name: string, base: number, parts: Array<{ n: number; start: string; size: string; name?: string }>): string {
  const put = (p: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), text);
  };
  const link = (p: string, target: string) => {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.symlinkSync(target, path.join(root, p));
  };
  const diskDir = `devices/virtual/block/${name}`;
  put(`${diskDir}/dev`, `240:${base}\n`);
  put(`${diskDir}/size`, '1048576\n');
  link(`dev/block/240:${base}`, `../../${diskDir}`);
  for (const p of parts) {
    const partName = p.name ?? `${name}${p.n}`;
    put(`${diskDir}/${partName}/partition`, `${p.n}\n`);
    put(`${diskDir}/${partName}/start`, `${p.start}\n`);
    put(`${diskDir}/${partName}/size`, `${p.size}\n`);
    put(`${diskDir}/${partName}/dev`, `240:${base + p.n}\n`);
    link(`dev/block/240:${base + p.n}`, `../../${diskDir}/${partName}`);
  }
  return root;
}

describe('partitionDeviceOf', () => {
  it('gives the number, start, size and disk (node found by name) of a partition device, by device number', () => {
    const sys = sysfsTree(path.join(dir, 'sys1'), 'sdz', 0, [{ n: 1, start: '2048', size: '40960' }, { n: 5, start: '45056', size: '2048' }]);
    const dev = path.join(dir, 'dev1');
    const disk = mknod(path.join(dev, 'sdz'), 240, 0);
    const part = mknod(path.join(dev, 'sdz1'), 240, 1);
    const logical = mknod(path.join(dev, 'sdz5'), 240, 5);
    // Another name for the same node (as /dev/disk/by-id/… is): found by number, not by name.
    const alias = path.join(dir, 'by-id-usb-stick-part1');
    fs.symlinkSync(part, alias);
    expect(partitionDeviceOf(alias, { sysfs: sys, devDir: dev })).toEqual({
      path: alias, majMin: '240:1', number: 1, startByte: 2048 * 512, bytes: 40960 * 512,
      disk: { name: 'sdz', majMin: '240:0', path: disk },
    });
    expect(partitionDeviceOf(logical, { sysfs: sys, devDir: dev })).toMatchObject({ number: 5, startByte: 45056 * 512, bytes: 2048 * 512 });
    // The whole disk, a regular file and nothing are no partitions.
    expect(partitionDeviceOf(disk, { sysfs: sys, devDir: dev })).toBeNull();
    fs.writeFileSync(path.join(dir, 'plain.img'), 'x');
    expect(partitionDeviceOf(path.join(dir, 'plain.img'), { sysfs: sys, devDir: dev })).toBeNull();
    expect(partitionDeviceOf(path.join(dir, 'missing'), { sysfs: sys, devDir: dev })).toBeNull();
  });

  it('finds the disk node under another name by its number, and says null where no node has it', () => {
    const sys = sysfsTree(path.join(dir, 'sys2'), 'mmcblk7', 16, [{ n: 2, start: '8192', size: '16384', name: 'mmcblk7p2' }]);
    const dev = path.join(dir, 'dev2');
    const part = mknod(path.join(dev, 'mmcblk7p2'), 240, 18);
    expect(partitionDeviceOf(part, { sysfs: sys, devDir: dev })?.disk).toEqual({ name: 'mmcblk7', majMin: '240:16', path: null });
    // A node with the right name but another number is not the disk; one with the number is.
    mknod(path.join(dev, 'mmcblk7'), 240, 99);
    const byNumber = mknod(path.join(dev, 'sd-card'), 240, 16);
    expect(partitionDeviceOf(part, { sysfs: sys, devDir: dev })?.disk.path).toBe(byNumber);
  });

  it('refuses a partition whose start, size or number sysfs does not give', () => {
    const sys = sysfsTree(path.join(dir, 'sys3'), 'vdq', 32, [
      { n: 1, start: '', size: '100' }, { n: 2, start: '100', size: 'lots' }, { n: 3, start: '99999999999999999999', size: '1' },
    ]);
    const dev = path.join(dir, 'dev3');
    const p1 = mknod(path.join(dev, 'vdq1'), 240, 33);
    const p2 = mknod(path.join(dev, 'vdq2'), 240, 34);
    const p3 = mknod(path.join(dev, 'vdq3'), 240, 35);
    expect(() => partitionDeviceOf(p1, { sysfs: sys, devDir: dev })).toThrow(DeviceError);
    expect(() => partitionDeviceOf(p1, { sysfs: sys, devDir: dev })).toThrow(/gives no start/);
    expect(() => partitionDeviceOf(p2, { sysfs: sys, devDir: dev })).toThrow(/gives no size \(.*holds 'lots'\)/);
    expect(() => partitionDeviceOf(p3, { sysfs: sys, devDir: dev })).toThrow(/gives no start/);
    fs.writeFileSync(path.join(sys, 'devices/virtual/block/vdq/vdq1/partition'), 'one\n');
    expect(() => partitionDeviceOf(p1, { sysfs: sys, devDir: dev })).toThrow(/its number is 'one'/);
    // A partition directory whose parent has no device number: no disk to name.
    const sys4 = sysfsTree(path.join(dir, 'sys4'), 'vdr', 48, [{ n: 1, start: '2048', size: '100' }]);
    const p4 = mknod(path.join(dev, 'vdr1'), 240, 49);
    expect(partitionDeviceOf(p4, { sysfs: sys4, devDir: dev })?.disk.majMin).toBe('240:48');
    fs.rmSync(path.join(sys4, 'devices/virtual/block/vdr/dev'));
    expect(() => partitionDeviceOf(p4, { sysfs: sys4, devDir: dev })).toThrow(/cannot find the disk holding this partition/);
  });
});
