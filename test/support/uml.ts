// The Linux vfat driver as a judge: ../shared/tools/uml-vfat runs a shell job under a real kernel
// (User-mode Linux) with images attached as /dev/ubda, /dev/ubdb, …
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './fsconv.js';
import { tryRun } from './run.js';

export const UML_VFAT = process.env['FSCONV_UML_VFAT'] ?? join(REPO_ROOT, '..', 'shared', 'tools', 'uml-vfat');

/**
 * Debian bookworm's User-mode Linux (6.1) cannot start its init on CPUs with AMX (its xstate
 * buffer is too small: "ptrace set fp regs failed, errno = 14", then a kernel panic). Such a
 * machine cannot run this judge at all; that is said loudly, and is no verdict on fsconv.
 */
const CANNOT_BOOT = /ptrace set fp regs failed/;

/** Boots User-mode Linux once with a trivial init, to tell a kernel that cannot boot here from a job that failed. */
function cannotBootHere(): boolean {
  const r = tryRun('sh', ['-c', 'timeout 60 linux.uml mem=256M root=/dev/root rootfstype=hostfs rootflags=/ rw init=/bin/true con=null con0=null,fd:2 2>&1 </dev/null'], { timeoutMs: 90_000 });
  return CANNOT_BOOT.test(r.stdout.toString() + r.stderr.toString());
}

export type UmlResult = { ran: true; status: number | null; output: string } | { ran: false; why: string };

/** Runs `job` under the vfat driver; `ran: false` when the judge is missing (outside CI) or cannot boot on this CPU. */
export function runUnderVfatDriver(job: string, images: string[], timeoutMs = 240_000): UmlResult {
  if (!existsSync(UML_VFAT)) {
    if (process.env['CI']) throw new Error(`the kernel judge is missing at ${UML_VFAT} (it must be there in CI)`);
    return { ran: false, why: `${UML_VFAT} not found` };
  }
  const r = tryRun(UML_VFAT, [job, ...images], { timeoutMs });
  const output = r.stdout.toString() + r.stderr.toString();
  if (r.status !== 0 && /the kernel did not run the job/.test(output) && cannotBootHere()) {
    return { ran: false, why: 'User-mode Linux cannot start its init on this CPU ("ptrace set fp regs failed": bookworm\'s UML 6.1 and AMX)' };
  }
  return { ran: true, status: r.status, output };
}

/** Says plainly that the kernel-driver judgement did not happen, and why. */
export function noteNotRun(what: string, why: string): void {
  console.log(`NOTE: ${what} was NOT run through the Linux vfat driver: ${why}.`);
}
