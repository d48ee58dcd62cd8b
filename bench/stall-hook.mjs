// Use: BENCH_STALL_LOG=FILE node --import ./bench/stall-hook.mjs ...   (or import { startStallLog } from it)
//
// Records what can hold a Node process up, one JSON line per event appended to FILE, with times in epoch ms
// (performance.timeOrigin + startTime, so lines from two processes on one machine can be lined up):
//   {"k":"gc","t":START,"d":DURATION_MS,"kind":"minor|major|incremental|weakcb"}   every GC pause (PerformanceObserver)
//   {"k":"stall","t":START,"d":LATE_MS,"cpu":CPU_MS}   a 1 ms timer that fired more than 2 ms late; CPU_MS is the
//      process's CPU time (all threads) over that interval: close to LATE_MS, the event loop was busy (blocked by
//      work); far below it, the process was not running (descheduled on a busy machine, or a blocking syscall)
// bench/api-sync.ts --trace preloads it into clusterdns and runs it in its own process, to tell which process paused
// when a programming-latency sample is slow. A measurement aid only: the 1 ms timer costs a little CPU.
import { closeSync, openSync, writeSync } from 'node:fs';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Starts logging GC pauses and event-loop stalls to `file`; returns a function that stops it. */
export function startStallLog(file, stallMs = 2) {
  const fd = openSync(file, 'a');
  const origin = performance.timeOrigin;
  const line = (o) => writeSync(fd, JSON.stringify(o) + '\n');
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      line({ k: 'gc', t: +(origin + e.startTime).toFixed(3), d: +e.duration.toFixed(3), kind: KINDS[e.detail?.kind] ?? String(e.detail?.kind) });
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const late = now - last - 1;
    if (late > stallMs) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      line({ k: 'stall', t: +(origin + last + 1).toFixed(3), d: +late.toFixed(3), cpu: +cpuMs.toFixed(3) });
    }
    last = now;
    lastCpu = cpu;
  }, 1);
  timer.unref();
  return () => {
    obs.disconnect();
    clearInterval(timer);
    closeSync(fd);
  };
}

if (process.env.BENCH_STALL_LOG) startStallLog(process.env.BENCH_STALL_LOG);
