const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A name or path component for display and JSON: UTF-8, with U+FFFD for bytes that are not valid UTF-8. */
export const decodeName = (bytes: Uint8Array): string => utf8.decode(bytes);

/** An exact, byte-preserving key for a name (for duplicate detection). */
export const nameKey = (bytes: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
};

/** A child's '/'-rooted path. */
export const joinPath = (parent: string, name: string): string => (parent === '/' ? `/${name}` : `${parent}/${name}`);
