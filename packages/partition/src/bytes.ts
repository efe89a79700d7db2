/** A number as 0x-prefixed hex with at least `digits` digits, as the messages show type codes and revisions. */
export const hex = (v: number, digits = 2): string => `0x${v.toString(16).padStart(digits, '0')}`;
