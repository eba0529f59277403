/**
 * Who this process is, in the terms a lease holder's liveness can be judged by: a pid means
 * something only inside one PID namespace of one running kernel, so a lease records the kernel's
 * boot id and the PID namespace next to the pid, and the process's start time (so a recycled pid
 * is not taken for the holder). Linux only; elsewhere the fields are null and a holder can only be
 * judged by whether it keeps renewing its lease (see lease.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface ProcessIdentity {
  pid: number;
  hostname: string;
  /** /proc/sys/kernel/random/boot_id: changes at every boot, shared by every container on a kernel. */
  bootId: string | null;
  /** readlink /proc/self/ns/pid, e.g. 'pid:[4026531836]'. */
  pidNamespace: string | null;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot): tells a recycled pid apart. */
  startTime: string | null;
}

function readTrimmed(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), ... */
  state: string;
  startTime: string;
}

/** Parses /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function readProcStat(pid: number | 'self'): ProcStat | 'gone' | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    // No such process; anything else (no /proc, hidepid) says nothing.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/stat') ? 'gone' : null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the command: field 3 (state) is fields[0], field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  return state !== undefined && startTime !== undefined ? { state, startTime } : null;
}

let cached: ProcessIdentity | null = null;

/** This process's identity (pid read each time: it changes in a fork-less world only, but is cheap). */
export function selfIdentity(): ProcessIdentity {
  if (cached === null || cached.pid !== process.pid) {
    let pidNamespace: string | null = null;
    try {
      pidNamespace = fs.readlinkSync('/proc/self/ns/pid');
    } catch {
      // not Linux, or /proc not mounted
    }
    const stat = readProcStat('self');
    cached = {
      pid: process.pid,
      hostname: os.hostname(),
      bootId: readTrimmed('/proc/sys/kernel/random/boot_id'),
      pidNamespace,
      startTime: stat !== null && stat !== 'gone' ? stat.startTime : null,
    };
  }
  return cached;
}

/**
 * Whether `pid` in OUR PID namespace is the process that recorded `startTime`. A zombie (killed,
 * not yet reaped) is dead: it can never write again.
 */
export function processAlive(pid: number, startTime: string | null): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const stat = readProcStat(pid);
  if (stat === 'gone') return false;
  if (stat !== null) {
    if (stat.state === 'Z' || stat.state === 'X') return false;
    return startTime === null || stat.startTime === startTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
