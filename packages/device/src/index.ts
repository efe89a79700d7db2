export * from './device.js';
export * from './mounts.js';
