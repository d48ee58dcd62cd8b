/**
 * lib/kube/gc.ts: on Node 20 the young generation stays at its start-up size, unless the user sized it; the
 * collection after a big load compacts the old generation. Each case runs in its own Node process (the built dist/), since both change
 * process-wide V8 state.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { keepYoungGenerationSmall } from '../../lib/kube/gc.js';

const GC = fileURLToPath(new URL('../../dist/lib/kube/gc.js', import.meta.url));

/** Runs `body` (an ES module; `gc` is lib/kube/gc.ts, `spaces()` the heap spaces in MB) and returns its JSON. */
function run(body: string, nodeArgs: string[] = []): Record<string, number | boolean> {
  const src = `
    import * as gc from ${JSON.stringify(GC)};
    import { getHeapSpaceStatistics } from 'node:v8';
    const spaces = () => Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size / 1048576, used: s.space_used_size / 1048576 }]));
    ${body}`;
  const out = execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', src], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(out) as Record<string, number | boolean>;
}

// Builds ~60 MB of objects that stay alive (as a cluster load does), then reports the young generation's size.
const LOAD = `
  const kept = [];
  for (let i = 0; i < 600000; i++) kept.push({ i, s: 'x' + i, a: [i] });
  const young = spaces().new_space.size;`;

t.test('keepYoungGenerationSmall holds the young generation at its size through a big load', async (t) => {
  const kept = run(`const before = spaces().new_space.size; const did = gc.keepYoungGenerationSmall({ streaming: true }); ${LOAD} console.log(JSON.stringify({ did, before, young }));`);
  t.equal(kept.did, true);
  t.equal(kept.young, kept.before, `the young generation stays at the ${kept.before} MB it had`);
  const grown = run(`${LOAD} console.log(JSON.stringify({ young }));`);
  t.ok((grown.young as number) >= 16, `without it V8 grows it (${grown.young} MB)`);
  const mine = run(`const did = gc.keepYoungGenerationSmall({ streaming: true }); ${LOAD} console.log(JSON.stringify({ did, young }));`, ['--max-semi-space-size=4']);
  t.equal(mine.did, false, "a user's --max-semi-space-size stands");
  t.ok((mine.young as number) > 2, `and V8 sizes by it (${mine.young} MB)`);
});

t.test('keepYoungGenerationSmall leaves explicit young-generation options and V8 12+ alone', async (t) => {
  // Only the decision is checked here (in this process nothing is set when it declines).
  for (const flag of ['--max-semi-space-size=16', '--max_semi_space_size=16', '--min-semi-space-size=2', '--semi-space-growth-factor=2']) {
    t.equal(keepYoungGenerationSmall({ execArgv: [flag], nodeOptions: '' }), false, `${flag} on the command line`);
    t.equal(keepYoungGenerationSmall({ execArgv: [], nodeOptions: `--max-old-space-size=640 ${flag}` }), false, `${flag} in NODE_OPTIONS`);
    t.equal(keepYoungGenerationSmall({ execArgv: [flag], nodeOptions: '', streaming: true, v8Version: '13.6.233.10' }), false, `${flag}, streaming`);
  }
  // Node 22 and 24: the collection after a load gives the young generation back, so it may grow during a load that
  // parses whole documents (not decided by a flag here: nothing is set).
  t.equal(keepYoungGenerationSmall({ execArgv: [], nodeOptions: '', v8Version: '12.4.254.21-node.57' }), false, 'V8 12');
  t.equal(keepYoungGenerationSmall({ execArgv: [], nodeOptions: '', v8Version: '13.6.233.10-node.18' }), false, 'V8 13');
});

t.test('collectGarbage compacts the old generation', async (t) => {
  // Half of a big set of long-lived objects dies, leaving every old-generation page half empty: a normal full
  // collection keeps those pages; the compacting one moves the survivors together.
  const script = (collect: string) => `
    let all = [];
    for (let i = 0; i < 400000; i++) all.push({ i, s: 'y' + i });
    ${'for (let k = 0; k < 3; k++) { const junk = []; for (let i = 0; i < 100000; i++) junk.push({ i }); }'}
    all = all.filter((_, i) => i % 2 === 0);
    ${collect};
    const o = spaces().old_space;
    console.log(JSON.stringify({ free: o.size - o.used, used: o.used, n: all.length }));`;
  const compacted = run(script('gc.collectGarbage()'));
  const plain = run(script('globalThis.gc()'), ['--expose-gc']);
  t.ok((compacted.free as number) < (compacted.used as number) * 0.1, `compacted: ${(compacted.free as number).toFixed(1)} MB free of ${(compacted.used as number).toFixed(1)} MB used`);
  t.ok((plain.free as number) > (compacted.free as number) + 5, `a normal full collection leaves ${(plain.free as number).toFixed(1)} MB of holes`);
});
