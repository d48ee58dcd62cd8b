// Use: node --import ./bench/prof-hook.mjs dist/bin/clusterdns.js ...   (with BENCH_PROF_FILE=/path/out.cpuprofile)
//
// Loaded before clusterdns by run.sh -p: the first SIGUSR2 starts the V8 CPU profiler in-process, the second stops
// it and writes the profile to $BENCH_PROF_FILE. Unlike `node --cpu-prof`, which profiles from start to exit, this
// leaves the fixture load and the shutdown out, so the profile shows only the query path under load.
// Nothing in lib/ knows about it; without SIGUSR2 it does nothing.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_PROF_FILE ?? `clusterdns-${process.pid}.cpuprofile`;
let session = null;
process.on('SIGUSR2', () => {
  if (session === null) {
    session = new Session();
    session.connect();
    session.post('Profiler.enable', () => session.post('Profiler.start'));
    return;
  }
  const s = session;
  session = null;
  s.post('Profiler.stop', (err, res) => {
    if (err) console.error(`prof-hook: ${err.message}`);
    else writeFileSync(out, JSON.stringify(res.profile));
    s.disconnect();
  });
});
