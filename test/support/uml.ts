// The Linux vfat driver as a judge: a real kernel mounts the image and works on it. The project's
// judge is ../shared/tools/uml-vfat (User-mode Linux, images as /dev/ubda, /dev/ubdb, …). Where
// User-mode Linux cannot start its init on this machine ("ptrace set fp regs failed, errno = 14":
// seen with UML 6.1 and 6.12 on a 6.18 host whose CPU has AMX), tools/qemu-vfat runs the same job
// under Debian's own kernel in QEMU, with the images under the same names. Either way the verdict
// is a real kernel's; which one judged is said in the result.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './fsconv.js';
import { tryRun } from './run.js';

export const UML_VFAT = process.env['FSCONV_UML_VFAT'] ?? join(REPO_ROOT, '..', 'shared', 'tools', 'uml-vfat');
export const QEMU_VFAT = join(REPO_ROOT, 'tools', 'qemu-vfat');

const CANNOT_BOOT = /ptrace set fp regs failed/;

/** Boots User-mode Linux once with a trivial init, to tell a kernel that cannot boot here from a job that failed. */
let umlBoots: boolean | undefined;
function umlCannotBootHere(): boolean {
  if (umlBoots === undefined) {
    const r = tryRun('sh', ['-c', 'timeout 60 linux.uml mem=256M root=/dev/root rootfstype=hostfs rootflags=/ rw init=/bin/true con=null con0=null,fd:2 2>&1 </dev/null'], { timeoutMs: 90_000 });
    umlBoots = !CANNOT_BOOT.test(r.stdout.toString() + r.stderr.toString());
  }
  return !umlBoots;
}

export type UmlResult = { ran: true; status: number | null; output: string; judge: 'uml-vfat' | 'qemu-vfat' } | { ran: false; why: string };

function qemu(job: string, images: string[], timeoutMs: number, why: string): UmlResult {
  const r = tryRun(QEMU_VFAT, [job, ...images], { timeoutMs });
  const output = r.stdout.toString() + r.stderr.toString();
  if (r.status !== 0 && /qemu-vfat: the job did not finish|qemu-system-x86_64: not found|Unable to locate package/.test(output)) {
    if (process.env['CI']) throw new Error(`no kernel judge could run (${why}; qemu-vfat: ${output.trim().split('\n').slice(-3).join(' / ')})`);
    return { ran: false, why: `${why}, and qemu-vfat could not run either` };
  }
  console.log(`NOTE: ${why}: judged by tools/qemu-vfat (Debian's kernel in QEMU) instead.`);
  return { ran: true, status: r.status, output, judge: 'qemu-vfat' };
}

/** Runs `job` under the Linux vfat driver (uml-vfat, or qemu-vfat where UML cannot boot); `ran: false` only outside CI when neither can run. */
export function runUnderVfatDriver(job: string, images: string[], timeoutMs = 240_000): UmlResult {
  if (!existsSync(UML_VFAT)) return qemu(job, images, timeoutMs, `${UML_VFAT} not found`);
  const r = tryRun(UML_VFAT, [job, ...images], { timeoutMs });
  const output = r.stdout.toString() + r.stderr.toString();
  if (r.status !== 0 && /the kernel did not run the job/.test(output) && umlCannotBootHere()) {
    return qemu(job, images, timeoutMs, 'User-mode Linux cannot start its init on this machine ("ptrace set fp regs failed")');
  }
  return { ran: true, status: r.status, output, judge: 'uml-vfat' };
}

/** Says plainly that the kernel-driver judgement did not happen, and why. */
export function noteNotRun(what: string, why: string): void {
  console.log(`NOTE: ${what} was NOT run through the Linux vfat driver: ${why}.`);
}
