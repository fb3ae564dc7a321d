// The server's main-thread CPU time, which bench:xds and bench:xds-floor both read around a change.
import fs from 'node:fs';

/**
 * CPU time of the main thread alone (the event loop and JavaScript), in microseconds, from the
 * scheduler's nanosecond count; process.cpuUsage() also counts V8's helper threads (concurrent
 * compilation and marking, parallel scavenges) and libuv's. NaN where /proc does not say (not Linux).
 */
export function mainThreadCpuMicros(): number {
  try {
    const schedstat = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8');
    return Number(schedstat.split(' ')[0]) / 1000;
  } catch {
    return Number.NaN;
  }
}
