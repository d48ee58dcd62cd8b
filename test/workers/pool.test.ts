// The secondary workers' supervisor (lib/workers/pool.ts) with stand-in secondaries (test/support/fake-secondary.mjs)
// on real worker threads: a failing start fails the whole start, a worker that dies is logged and restarted, one
// that keeps dying ends the process, readiness of a worker that is down, metrics and reloads passed on, stop.
import t from 'tap';
import type { LoadedConfig } from '../../lib/main.js';
import { CRASH_LIMIT, WorkerPool } from '../../lib/workers/pool.js';
import { captureLog, type LogLine, waitFor } from '../support/kube-helpers.js';

const SCRIPT = new URL('../support/fake-secondary.mjs', import.meta.url);

function pool(source: string, secondaries = 1): { pool: WorkerPool; logs: LogLine[]; exits: number[] } {
  const { log, lines: logs } = captureLog();
  const exits: number[] = [];
  const loaded: LoadedConfig = { blocks: [], source };
  const p = new WorkerPool({ secondaries, loaded, port: 53, log, exit: (c) => exits.push(c), script: SCRIPT, restartMs: 20 });
  t.teardown(() => p.stop());
  return { pool: p, logs, exits };
}

t.test('a secondary that fails to start fails the start, naming the worker and the reason', async (t) => {
  const { pool: p } = pool('fail-start', 2);
  await t.rejects(p.start(), { message: /^worker [12]: cannot bind: boom$/ });
});

t.test('every secondary answers for metrics and readiness; reloads are passed on', async (t) => {
  const { pool: p } = pool('ok', 2);
  await p.start();
  const metrics = await p.metrics();
  t.same(metrics.map((m) => m[0]!.values[0]!.value).sort(), [1, 2], 'one metrics list per secondary');
  t.same(await p.readiness(false), [{ ready: true, notReady: '' }, { ready: true, notReady: '' }]);
  await p.reloaded({ blocks: [], source: 'ok' }, []);
  await p.stop();
  t.same(await p.readiness(false), [{ ready: false, notReady: 'worker1' }, { ready: false, notReady: 'worker2' }], 'stopped workers are not ready');
  t.same(await p.metrics(), [], 'stopped workers have no metrics');
});

t.test('a secondary that dies is logged and restarted; while it is down it is not ready', async (t) => {
  const { pool: p, logs, exits } = pool('crash-on-reload');
  await p.start();
  // The crash happens while the reload is being passed on: the reload resolves, the worker is restarted.
  await p.reloaded({ blocks: [], source: 'ok' }, []);
  await waitFor(() => logs.some((l) => /^worker 1 stopped: worker 1 crashed on reload; restarting it in 20ms$/.test(String(l.msg))), 'the crash to be logged', 5000);
  const crash = logs.find((l) => /crashed on reload/.test(String(l.msg)))!;
  t.equal(crash.level, 50, 'logged at error level');
  await waitFor(() => logs.some((l) => l.msg === 'worker 1 restarted'), 'the restart', 5000);
  t.same(await p.readiness(false), [{ ready: true, notReady: '' }], 'ready again after the restart');
  t.same(exits, [], 'the process was not ended');
});

t.test(`more than ${CRASH_LIMIT} deaths within a minute end the process with status 1`, async (t) => {
  const { pool: p, logs, exits } = pool('die-after-start');
  await p.start().catch(() => undefined);
  // Each stand-in thread boots with tap's TypeScript hooks (~1 s), so six lives take several seconds.
  await waitFor(() => exits.length > 0, 'the process exit', 60_000);
  t.same(exits, [1]);
  const fatal = logs.find((l) => l.level === 60);
  t.match(String(fatal?.msg), /workers stopped 6 times within 60s, exiting/);
  t.ok(logs.filter((l) => /restarting it in/.test(String(l.msg))).length >= CRASH_LIMIT - 1, 'the earlier deaths were restarted');
});

t.test('a stop while a reload waits on a secondary ends the wait at once and stops the worker', async (t) => {
  const { pool: p, logs } = pool('hang-on-reload');
  await p.start();
  let reloadSettled = false;
  const reload = p.reloaded({ blocks: [], source: 'hang-on-reload' }, []).then(() => (reloadSettled = true));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(reloadSettled, false, 'the reload is still waiting for the worker');
  // Without the stop the reload would wait RELOAD_TIMEOUT_MS (60 s), past this test's timeout.
  await p.stop();
  await reload;
  t.equal(reloadSettled, true, 'the reload gave up when the pool stopped');
  t.notOk(logs.some((l) => /replacing it/.test(String(l.msg))), 'the worker was not replaced on the way out');
  t.same(await p.readiness(false), [{ ready: false, notReady: 'worker1' }], 'the worker is stopped');
});
