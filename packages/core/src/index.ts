export * from './import-dir.js';
export * from './in-place/engine.js';
export * from './in-place/crash-device.js';
export * from './in-place/journal.js';
export type { InPlaceAccounting, StageSink } from './in-place/layout.js';
