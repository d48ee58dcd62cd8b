// A stand-in for lib/workers/secondary.ts speaking the same protocol, for the pool's tests (test/workers/pool.test.ts).
// Its behaviour is chosen by the configuration's `source`:
//   ok             starts, answers ready / metrics / reload / stop
//   fail-start     reports a start failure ('cannot bind: boom') and exits
//   die-after-start starts, then exits with status 3
//   crash-on-reload starts; a reload throws an uncaught error
//   hang-on-reload starts; a reload is never answered (stop still is)
import { parentPort, workerData } from 'node:worker_threads';

const { index, loaded } = workerData;
const mode = loaded.source;
if (mode === 'fail-start') {
  parentPort.postMessage({ type: 'failed', message: 'cannot bind: boom' });
  process.exit(1);
}
parentPort.on('message', (m) => {
  if (m.type === 'ready') parentPort.postMessage({ type: 'reply', id: m.id, value: { ready: true, notReady: '' } });
  if (m.type === 'metrics') {
    parentPort.postMessage({
      type: 'reply',
      id: m.id,
      value: [{ name: 'fake_total', help: 'h', type: 'counter', aggregator: 'sum', values: [{ value: index, labels: {} }] }],
    });
  }
  if (m.type === 'reload') {
    if (mode === 'crash-on-reload') throw new Error(`worker ${index} crashed on reload`);
    if (mode === 'hang-on-reload') return;
    parentPort.postMessage({ type: 'reply', id: m.id, value: 'reloaded' });
  }
  if (m.type === 'stop') {
    parentPort.postMessage({ type: 'reply', id: m.id, value: null });
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'started' });
if (mode === 'die-after-start') setTimeout(() => process.exit(3), 20);
