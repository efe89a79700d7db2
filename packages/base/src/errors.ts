/**
 * Where something is wrong, as precisely as the format can say: which block group, inode, path,
 * directory entry, block, cluster or byte offset. Every field is optional; messages name them in
 * this order.
 */
export interface ErrorLocation {
  group?: number;
  inode?: number;
  /** A '/'-rooted path, or a description such as 'root directory'. */
  path?: string;
  /** Slot index of a directory entry within its directory. */
  entry?: number;
  block?: number;
  cluster?: number;
  /** A byte offset on the device. */
  offset?: number;
}

/**
 * The base of every refusal fsconv gives for bad input (a format's reader, a codec, a partition
 * table, a journal): a one-line message naming what is wrong and where, a machine-readable code,
 * and the location as data. The CLI prints any of them as one line with exit 1; anything that is
 * not one is a bug.
 */
export class FsconvError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    readonly detail: string,
    readonly where: ErrorLocation = {},
  ) {
    super(formatErrorMessage(detail, where));
  }
}

/** `where: detail` on one line, whatever the detail holds (names come from disk). */
export function formatErrorMessage(detail: string, where: ErrorLocation): string {
  const parts: string[] = [];
  if (where.group !== undefined) parts.push(`group ${where.group}`);
  if (where.inode !== undefined) {
    parts.push(where.path !== undefined ? `inode ${where.inode} (${where.path})` : `inode ${where.inode}`);
  } else if (where.path !== undefined && where.path !== '') {
    parts.push(where.path);
  }
  if (where.entry !== undefined) parts.push(`entry ${where.entry}`);
  if (where.block !== undefined) parts.push(`block ${where.block}`);
  if (where.cluster !== undefined) parts.push(`cluster ${where.cluster}`);
  if (where.offset !== undefined) parts.push(`byte ${where.offset}`);
  const text = parts.length > 0 ? `${parts.join(', ')}: ${detail}` : detail;
  return text.replace(/[\r\n]+/g, ' ');
}

/** A read outside a byte source (a device shorter than its filesystem claims). */
export class SourceRangeError extends FsconvError<'io'> {
  override readonly name = 'SourceRangeError';
  constructor(detail: string) {
    super('io', detail);
  }
}
