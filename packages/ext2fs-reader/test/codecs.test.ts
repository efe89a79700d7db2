import { describe, expect, it } from 'vitest';
import { walkBlockMap, maxMappableBlocks, appendToExtents, type BlockMapContext, type Extent } from '../src/block-map.js';
import { decodeRecLen, forEachDirEntry } from '../src/directory.js';
import { Ext2Error } from '../src/errors.js';
import { decodeInode, deviceNumber } from '../src/inode.js';
import { decodeSuperblock, validateSuperblock, groupHasSuperblock } from '../src/superblock.js';
import { unsupportedFeatures } from '../src/features.js';

/** A fake filesystem of `count` blocks of `bs` bytes held in memory. */
function memoryContext(bs: number, count: number): BlockMapContext & { blocks: Uint8Array[]; reads: number } {
  const blocks = Array.from({ length: count }, () => new Uint8Array(bs));
  const ctx = {
    blockSize: bs, firstDataBlock: 1, blocksCount: count, blocks, reads: 0,
    readBlock(b: number) { ctx.reads++; return blocks[b]!; },
  };
  return ctx;
}
const put32 = (b: Uint8Array, o: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint32(o, v, true);

function collect(ctx: BlockMapContext, iBlock: Uint32Array, limit: number) {
  const data: Array<[number, number]> = [];
  const maps: number[] = [];
  walkBlockMap(ctx, iBlock, limit, { inode: 12 }, { data: (l, p) => data.push([l, p]), mapBlock: (p) => maps.push(p) });
  return { data, maps };
}

describe('block map walk', () => {
  it('maps direct, indirect and double indirect pointers to logical indexes, holes skipped', () => {
    const ctx = memoryContext(1024, 100);
    const iBlock = new Uint32Array(15);
    iBlock[0] = 10; iBlock[11] = 11; iBlock[12] = 20; iBlock[13] = 21;
    put32(ctx.blocks[20]!, 0, 30); put32(ctx.blocks[20]!, 4 * 255, 31);
    put32(ctx.blocks[21]!, 4 * 1, 22); put32(ctx.blocks[22]!, 4 * 2, 40);
    const { data, maps } = collect(ctx, iBlock, 1e9);
    expect(data).toEqual([[0, 10], [11, 11], [12, 30], [12 + 255, 31], [12 + 256 + 256 + 2, 40]]);
    expect(maps).toEqual([20, 21, 22]);
  });

  it('refuses a pointer past the end of the filesystem, naming inode and block', () => {
    const ctx = memoryContext(1024, 100);
    const iBlock = new Uint32Array(15);
    iBlock[3] = 99999999;
    expect(() => collect(ctx, iBlock, 1e9)).toThrowError(/inode 12: logical block 3 points to block 99999999, outside the filesystem/);
  });

  it('refuses a triple indirect block pointing to itself, after reading it once', () => {
    const ctx = memoryContext(1024, 100);
    const iBlock = new Uint32Array(15);
    iBlock[14] = 50;
    put32(ctx.blocks[50]!, 0, 50);
    expect(() => collect(ctx, iBlock, maxMappableBlocks(1024))).toThrowError(/map block 50 is reached twice/);
    expect(ctx.reads).toBeLessThanOrEqual(2);
  });

  it('refuses data past the file size but allows the block at exactly size/bs (as e2fsck does)', () => {
    const ctx = memoryContext(1024, 100);
    const iBlock = new Uint32Array(15);
    iBlock[2] = 10;
    expect(() => collect(ctx, iBlock, 2)).toThrowError(Ext2Error);
    expect(collect(ctx, iBlock, 3).data).toEqual([[2, 10]]);
  });

  it('merges contiguous blocks into extents', () => {
    const ex: Extent[] = [];
    for (const [l, p] of [[0, 5], [1, 6], [2, 7], [4, 9], [5, 3]] as const) appendToExtents(ex, l, p);
    expect(ex).toEqual([{ logical: 0, physical: 5, length: 3 }, { logical: 4, physical: 9, length: 1 }, { logical: 5, physical: 3, length: 1 }]);
  });
});

describe('directory records', () => {
  const record = (b: Uint8Array, o: number, ino: number, recLen: number, name: string, type = 1): void => {
    put32(b, o, ino);
    b[o + 4] = recLen & 0xff; b[o + 5] = recLen >> 8;
    b[o + 6] = name.length; b[o + 7] = type;
    b.set(new TextEncoder().encode(name), o + 8);
  };
  it('lists used records and skips unused ones', () => {
    const b = new Uint8Array(1024);
    record(b, 0, 2, 12, '.', 2);
    record(b, 12, 0, 20, 'gone');
    record(b, 32, 13, 1024 - 32, 'file.txt');
    const names: string[] = [];
    forEachDirEntry(b, 1024, true, {}, (e) => names.push(new TextDecoder().decode(e.name)));
    expect(names).toEqual(['.', 'file.txt']);
  });
  it('refuses rec_len 0 instead of looping', () => {
    const b = new Uint8Array(1024);
    record(b, 0, 2, 0, '.');
    expect(() => forEachDirEntry(b, 1024, true, { inode: 2 }, () => {})).toThrowError(/inode 2: directory record at offset 0 has an invalid rec_len 0/);
  });
  it('refuses a record running past the block and a name longer than the record', () => {
    const b = new Uint8Array(1024);
    record(b, 0, 2, 2048, '.');
    expect(() => forEachDirEntry(b, 1024, true, {}, () => {})).toThrowError(Ext2Error);
    record(b, 0, 2, 12, 'abcdefgh');
    expect(() => forEachDirEntry(b, 1024, true, {}, () => {})).toThrowError(/name length 8/);
  });
  it('refuses a slash in a name and a type byte without the filetype feature', () => {
    const b = new Uint8Array(1024);
    record(b, 0, 12, 1024, 'a/b');
    expect(() => forEachDirEntry(b, 1024, true, {}, () => {})).toThrowError(/'\/'/);
    record(b, 0, 12, 1024, 'ab', 1);
    expect(() => forEachDirEntry(b, 1024, false, {}, () => {})).toThrowError(/without the filetype feature/);
  });
  it('decodes 64 KiB rec_len encodings', () => {
    expect(decodeRecLen(65535, 65536)).toBe(65536);
    expect(decodeRecLen(0, 65536)).toBe(65536);
    expect(decodeRecLen(12, 65536)).toBe(12);
    expect(decodeRecLen(0, 4096)).toBe(0);
  });
});

describe('superblock', () => {
  function goodSuperblock(): Uint8Array {
    const b = new Uint8Array(1024);
    const v = new DataView(b.buffer);
    v.setUint32(0x00, 256, true); // inodes
    v.setUint32(0x04, 1024, true); // blocks
    v.setUint32(0x14, 1, true); // first data block
    v.setUint32(0x18, 0, true); // 1 KiB
    v.setUint32(0x20, 8192, true);
    v.setUint32(0x24, 8192, true);
    v.setUint32(0x28, 256, true);
    v.setUint16(0x38, 0xef53, true);
    v.setUint16(0x3a, 1, true);
    v.setUint32(0x4c, 1, true);
    v.setUint32(0x54, 11, true);
    v.setUint16(0x58, 128, true);
    return b;
  }
  it('accepts a plain revision 1 superblock', () => {
    const sb = decodeSuperblock(goodSuperblock());
    expect(() => validateSuperblock(sb, 1024 * 1024)).not.toThrow();
    expect(sb.groupCount).toBe(1);
  });
  it('names unsupported features', () => {
    const b = goodSuperblock();
    new DataView(b.buffer).setUint32(0x60, 0x10000 | 0x2, true);
    expect(() => validateSuperblock(decodeSuperblock(b), 1 << 20)).toThrowError(/features not supported: encrypt/);
    // extents and flex_bg are read (issue 13): accepted beside filetype.
    new DataView(b.buffer).setUint32(0x60, 0x40 | 0x200 | 0x2, true);
    expect(() => validateSuperblock(decodeSuperblock(b), 1 << 20)).not.toThrow();
    // metadata_csum is read too; bigalloc is refused, with its advice in the same line.
    expect(unsupportedFeatures({ compat: 0, incompat: 0, roCompat: 0x400 })).toEqual([]);
    expect(unsupportedFeatures({ compat: 0, incompat: 0, roCompat: 0x200 | 0x400 })).toEqual(['bigalloc']);
    new DataView(b.buffer).setUint32(0x60, 0x2, true);
    new DataView(b.buffer).setUint32(0x64, 0x200, true);
    expect(() => validateSuperblock(decodeSuperblock(b), 1 << 20)).toThrowError(/features not supported: bigalloc .*; bigalloc allocates clusters of several blocks/);
    // metadata_csum with a checksum type other than crc32c (1) is refused.
    new DataView(b.buffer).setUint32(0x64, 0x400, true);
    expect(() => validateSuperblock(decodeSuperblock(b), 1 << 20)).toThrowError(/checksum type 0 is unknown/);
  });
  it('refuses zero blocks per group instead of dividing by it', () => {
    const b = goodSuperblock();
    new DataView(b.buffer).setUint32(0x20, 0, true);
    expect(() => validateSuperblock(decodeSuperblock(b), 1 << 20)).toThrowError(/blocks per group/);
  });
  it('refuses a filesystem larger than its device', () => {
    expect(() => validateSuperblock(decodeSuperblock(goodSuperblock()), 1000)).toThrowError(/device has only 1000 bytes/);
  });
  it('refuses a journal needing recovery as unclean', () => {
    const b = goodSuperblock();
    new DataView(b.buffer).setUint32(0x60, 0x4, true);
    try {
      validateSuperblock(decodeSuperblock(b), 1 << 20);
      expect.unreachable();
    } catch (e) {
      expect((e as Ext2Error).code).toBe('unclean');
    }
  });
  it('knows which groups hold superblock backups with sparse_super', () => {
    const sb = decodeSuperblock(goodSuperblock());
    sb.roCompat = 1;
    const groups = Array.from({ length: 50 }, (_, g) => g).filter((g) => groupHasSuperblock(sb, g));
    expect(groups).toEqual([0, 1, 3, 5, 7, 9, 25, 27, 49]);
  });
});

describe('inode decoding', () => {
  it('decodes owners with high 16 bits, nanosecond times and epoch bits of large inodes', () => {
    const b = new Uint8Array(256);
    const v = new DataView(b.buffer);
    v.setUint16(0x00, 0o100644, true);
    v.setUint16(0x02, 100000 & 0xffff, true);
    v.setUint16(0x78, 100000 >>> 16, true);
    v.setUint32(0x10, 0x80000000, true); // mtime base: -2^31 as signed
    v.setUint16(0x80, 32, true); // extra isize
    v.setUint32(0x88, (123456789 << 2) | 1, true); // mtime extra: nsec, epoch 1
    const ino = decodeInode(b, 12, 256);
    expect(ino.uid).toBe(100000);
    expect(ino.mtime).toEqual({ sec: -(2 ** 31) + 2 ** 32, nsec: 123456789 });
  });
  it('reads old and new device number encodings', () => {
    const b = new Uint8Array(128);
    const v = new DataView(b.buffer);
    v.setUint32(0x28, (8 << 8) | 1, true);
    expect(deviceNumber(decodeInode(b, 12, 128))).toEqual([8, 1]);
    v.setUint32(0x28, 0, true);
    const major = 259, minor = 70000;
    v.setUint32(0x2c, (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12), true);
    expect(deviceNumber(decodeInode(b, 12, 128))).toEqual([major, minor]);
  });
});
