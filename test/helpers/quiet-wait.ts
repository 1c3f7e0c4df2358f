/**
 * Whether a timed submit leaves the main thread asleep while the device works: Dawn's Node
 * bindings poll on every turn of the event loop while a map is pending, so a host that
 * waits at once burns about as much CPU as the device takes time (src/kernels/webgpu/
 * quiet-wait.ts). Read from the kernel's real calls and the thread's own CPU clock.
 */
import { readFileSync } from 'node:fs';

/** CPU ms the main thread has used: utime + stime of /proc/self/task/PID/stat, in USER_HZ (100) ticks. */
export function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Main-thread CPU time over device time, the least of `calls` timed calls of about
 * `targetMs` each (after two that learn the pace), with every call's figures for the message.
 */
export async function pollingShare(time: (iterations: number) => Promise<number>, targetMs = 300, calls = 3): Promise<{ least: number; calls: string }> {
  const per = (await time(4)) / 4;
  const n = Math.max(1, Math.ceil(targetMs / per));
  await time(n);
  const seen: string[] = [];
  let least = Infinity;
  for (let i = 0; i < calls; i++) {
    const cpu0 = mainThreadCpuMs();
    const ms = await time(n);
    const cpu = mainThreadCpuMs() - cpu0;
    least = Math.min(least, cpu / ms);
    seen.push(`${n} calls: device ${ms.toFixed(0)} ms, main thread ${cpu} ms CPU`);
  }
  return { least, calls: seen.join('; ') };
}
