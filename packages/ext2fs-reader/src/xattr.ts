/** One extended attribute: its full name ("user.comment", "system.posix_acl_access") and its value. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}
