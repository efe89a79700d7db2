export * from './errors.js';
export * from './byte-source.js';
export * from './model.js';
export { formatGuid, encodeGuid, isGuid, ZERO_GUID } from './guid.js';
export { volumeBootSectorKind } from './filesystem-probe.js';
export {
  classifySector0, decodeMbr, mbrEntries, EXTENDED_TYPES, PROTECTIVE_TYPE, MAX_EBRS, MBR_SECTOR_SIZE,
  type MbrEntry, type Sector0,
} from './mbr.js';
export {
  decodeGpt, parseGptHeader, gptHeaderCrc, readGptCopies, MAX_ENTRY_ARRAY_BYTES, GPT_SECTOR_SIZES,
  type GptHeader, type GptCopy, type GptCopies, type DecodeOptions,
} from './gpt.js';
export { decodePartitionTable, noPartitionTableReason } from './decode.js';
export { setPartitionType, type PartitionTypeChange } from './set-type.js';
export { overlaySource } from './overlay.js';
export * from './fat-type.js';
