export * from './device.js';
export * from './identity.js';
export * from './lock.js';
export * from './mounts.js';
export * from './slice.js';
export * from './partition-device.js';
export * from './memory.js';
