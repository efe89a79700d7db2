// The extent tree walker on synthetic nodes: what it reports (extents in logical order, unwritten
// ones marked, index blocks as nodes) and every refusal, each naming the node and the entry.
import { describe, expect, it } from 'vitest';
import { Ext2Error } from '../src/errors.js';
import { walkExtentTree, type ExtentTreeContext } from '../src/extent-tree.js';

const BS = 1024;

/** A node: header (magic, entries, max, depth) then 12-byte entries. */
function node(room: number, depth: number, entries: number[][], max = Math.floor((room - 12) / 12)): Uint8Array {
  const b = new Uint8Array(room);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0xf30a, true);
  v.setUint16(2, entries.length, true);
  v.setUint16(4, max, true);
  v.setUint16(6, depth, true);
  entries.forEach((e, i) => {
    const o = 12 + 12 * i;
    if (depth === 0) {
      const [logical, len, physical] = e as [number, number, number];
      v.setUint32(o, logical, true);
      v.setUint16(o + 4, len, true);
      v.setUint16(o + 6, 0, true);
      v.setUint32(o + 8, physical, true);
    } else {
      const [logical, child] = e as [number, number];
      v.setUint32(o, logical, true);
      v.setUint32(o + 4, child, true);
    }
  });
  return b;
}

function ctx(blocks: Map<number, Uint8Array>): ExtentTreeContext {
  return { blockSize: BS, firstDataBlock: 1, blocksCount: 10000, readBlock: (b) => blocks.get(b) ?? new Uint8Array(BS) };
}

function walk(root: Uint8Array, blocks = new Map<number, Uint8Array>(), limit = 2 ** 32) {
  const extents: Array<[number, number, number, boolean]> = [];
  const nodes: Array<[number, number]> = [];
  walkExtentTree(ctx(blocks), root, limit, { inode: 12 }, undefined, {
    extent: (l, p, n, u) => extents.push([l, p, n, u]),
    node: (p, d) => nodes.push([p, d]),
  });
  return { extents, nodes };
}

const refused = (f: () => unknown, re: RegExp): void => {
  expect(f).toThrowError(Ext2Error);
  expect(f).toThrowError(re);
};

describe('walkExtentTree', () => {
  it('reports the leaf extents of a depth-0 root, unwritten ones marked', () => {
    const root = node(60, 0, [[0, 3, 100], [5, 32768 + 4, 200], [20, 32768, 300]]);
    const big = new Map<number, Uint8Array>();
    const seen: unknown[] = [];
    walkExtentTree({ ...ctx(big), blocksCount: 40000 }, root, 2 ** 32, {}, undefined, { extent: (l, p, n, u) => seen.push([l, p, n, u]), node: () => {} });
    expect(seen).toEqual([[0, 100, 3, false], [5, 200, 4, true], [20, 300, 32768, false]]);
  });

  it('follows index nodes in order, reporting each block as a node', () => {
    const blocks = new Map([[500, node(BS, 0, [[0, 10, 1000], [10, 5, 2000]])], [501, node(BS, 0, [[40, 2, 3000]])]]);
    const r = walk(node(60, 1, [[0, 500], [40, 501]]), blocks);
    expect(r.nodes).toEqual([[500, 0], [501, 0]]);
    expect(r.extents).toEqual([[0, 1000, 10, false], [10, 2000, 5, false], [40, 3000, 2, false]]);
  });

  it('refuses damage in one line, naming the node', () => {
    refused(() => walk(new Uint8Array(60)), /inode 12: i_block: no extent header \(magic 0x0/);
    refused(() => walk(node(60, 0, [[0, 1, 100]], 7)), /room for 7 entries where 4 fit/);
    refused(() => walk(node(60, 6, [])), /extent tree depth 6, more than 5/);
    refused(() => walk(node(60, 0, [[5, 1, 100], [5, 1, 101]])), /out of order \(logical 5 after 5\)/);
    refused(() => walk(node(60, 0, [[0, 4, 100], [2, 1, 200]])), /extent at logical 2 overlaps the one before \(ending at 3\)/);
    refused(() => walk(node(60, 0, [[0, 0, 100]])), /extent at logical 0 has length 0/);
    refused(() => walk(node(60, 0, [[0, 5, 9998]])), /lies at blocks 9998\.\.10002, outside the filesystem/);
    refused(() => walk(node(60, 0, [[0, 1, 0]])), /lies at blocks 0\.\.0, outside the filesystem \(1\.\.9999\)/);
    refused(() => walk(node(60, 0, [[8, 4, 100]]), undefined, 10), /extent at logical 8 of 4 blocks lies past the end of the file/);
    // A child of the wrong depth, a child reached twice, a child's extent outside its index range.
    refused(() => walk(node(60, 2, [[0, 500]]), new Map([[500, node(BS, 0, [[0, 1, 100]])]])), /extent tree block 500: extent node of depth 0 where depth 1 belongs/);
    refused(() => walk(node(60, 1, [[0, 500], [10, 500]]), new Map([[500, node(BS, 0, [[0, 1, 100]])]])), /block 500 is reached twice/);
    refused(() => walk(node(60, 1, [[0, 500], [10, 501]]), new Map([[500, node(BS, 0, [[0, 1, 50], [8, 4, 100]])], [501, node(BS, 0, [[10, 1, 200]])]])),
      /extent tree block 500: extent at logical 8 of 4 blocks reaches past its node's range \(9\)/);
    refused(() => walk(node(60, 1, [[10, 500]]), new Map([[500, node(BS, 0, [[10, 1, 90], [3, 1, 100]])]])), /out of order \(logical 3 after 10\)/);
    refused(() => walk(node(60, 1, [[0, 500], [10, 501]]), new Map([[500, node(BS, 0, [[0, 1, 90], [12, 1, 100]])], [501, node(BS, 0, [[10, 1, 200]])]])),
      /entry for logical 12 lies outside its node's range 0\.\.9/);
    // A child that starts after its index entry (e2fsck: "logical start does not match logical start at next level").
    refused(() => walk(node(60, 1, [[10, 500]]), new Map([[500, node(BS, 0, [[13, 1, 100]])]])), /extent tree block 500: first entry starts at logical 13, but its index entry says 10/);
    refused(() => walk(node(60, 1, [[0, 20000]])), /extent index for logical 0 lies at blocks 20000\.\.20000, outside/);
  });
});
