export * from './errors.js';
export * from './byte-source.js';
export * from './features.js';
export * from './superblock.js';
export * from './groups.js';
export * from './inode.js';
