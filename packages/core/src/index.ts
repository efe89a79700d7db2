export * from './model.js';
export * from './import-ext2.js';
export * from './import-dir.js';
export * from './fat-layout.js';
export * from './build-fat-image.js';
export * from './unix-entry.js';
export * from './fat-listing.js';
