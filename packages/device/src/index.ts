export * from './device.js';
export * from './identity.js';
export * from './lock.js';
export { decodeOctalEscapes, parseMountInfo, type MountInfoEntry } from './mount-table.js';
export * from './mount-uses.js';
export * from './exclusive-open.js';
export * from './slice.js';
export * from './partition-device.js';
export * from './memory.js';
