// Use: BENCH_STALL_LOG=FILE node --import ./bench/stall-hook.mjs ...   (or import { startStallLog } from it)
//      BENCH_APPLIED_LOG=FILE node --import ./bench/stall-hook.mjs dist/bin/clusterdns.js ...
//
// Records what can hold a Node process up, one JSON line per event appended to FILE, with times in epoch ms
// (performance.timeOrigin + startTime, so lines from several processes on one machine can be lined up):
//   {"k":"gc","t":START,"d":DURATION_MS,"kind":"minor|major|incremental|weakcb"}   every GC pause (PerformanceObserver)
//   {"k":"stall","t":START,"d":LATE_MS,"cpu":CPU_MS}   a 1 ms timer that fired more than 2 ms late; CPU_MS is the
//      process's CPU time (all threads) over that interval: close to LATE_MS, the event loop was busy (blocked by
//      work); far below it, the process was not running (descheduled on a busy machine, or a blocking syscall)
// BENCH_APPLIED_LOG (clusterdns only) records, without the 1 ms timer, every batch of watch events clusterdns applied
// (the diagnostics channel of lib/kube/api/reflector.ts):
//   {"k":"applied","t":ARRIVED,"d":APPLY_MS,"resource":"endpointslices","events":N}   the chunk arrived at t and the
//      model, zone and caches had it d ms later (what clusterdns_kubernetes_event_programming_seconds observes)
// bench/api-sync.ts preloads it into clusterdns and the fake API server and runs it in its own (probe) process, to
// tell which process paused when a programming-latency sample is slow. A measurement aid only: the 1 ms timer of
// the stall log costs a little CPU.
import { subscribe } from 'node:diagnostics_channel';
import { closeSync, openSync, writeSync } from 'node:fs';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Where lib/kube/api/reflector.ts publishes applied batches (APPLIED_CHANNEL there). */
const APPLIED_CHANNEL = 'clusterdns:kubernetes:applied';

const lineWriter = (file) => {
  const fd = openSync(file, 'a');
  return { fd, line: (o) => writeSync(fd, JSON.stringify(o) + '\n') };
};

/** Starts logging GC pauses and event-loop stalls to `file`; returns a function that stops it. */
export function startStallLog(file, stallMs = 2) {
  const { fd, line } = lineWriter(file);
  const origin = performance.timeOrigin;
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

/**
 * Starts logging clusterdns's applied watch batches to `file` (the process must be clusterdns). Lines are kept in
 * memory and written every 100 ms and at exit: a write inside the subscriber would sit on the measured path, between
 * the batch being applied and the DNS query waiting behind it.
 */
export function startAppliedLog(file) {
  const { fd } = lineWriter(file);
  const origin = performance.timeOrigin;
  let pending = [];
  const flush = () => {
    if (pending.length === 0) return;
    writeSync(fd, pending.join(''));
    pending = [];
  };
  subscribe(APPLIED_CHANNEL, (m) => {
    pending.push(JSON.stringify({ k: 'applied', t: +(origin + m.arrived).toFixed(3), d: +(m.applied - m.arrived).toFixed(3), resource: m.resource, events: m.events }) + '\n');
  });
  setInterval(flush, 100).unref();
  process.on('exit', flush);
}

if (process.env.BENCH_STALL_LOG) startStallLog(process.env.BENCH_STALL_LOG);
if (process.env.BENCH_APPLIED_LOG) startAppliedLog(process.env.BENCH_APPLIED_LOG);
