/**
 * A secondary worker thread: runs the primary's configuration (lib/main.ts `start`) on the primary's ports, shared
 * with SO_REUSEPORT, with its own plugins, cluster zone and API watches. Its HTTP plugins bind nothing; it answers
 * the primary's requests for its metrics and readiness, reloads when told and stops when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { start, type Instance } from '../main.js';
import { ReadinessList } from '../util/readiness.js';
import type { DnsServer, PortMap } from '../server/server.js';
import type { FromSecondary, SecondaryData, ToSecondary } from './protocol.js';

const data = workerData as SecondaryData;
const channel = parentPort!;
const post = (m: FromSecondary): void => channel.postMessage(m);
const log = createLogger().child({ worker: data.index });

let ports: PortMap | undefined = data.ports === undefined ? undefined : new Map(data.ports);
let portsArrived: () => void = () => undefined;
const portsKnown = new Promise<void>((resolve) => (portsArrived = resolve));
if (ports !== undefined) portsArrived();

/** The server being started, until `inst` exists; readiness is asked during start-up too. */
let starting: DnsServer | undefined;
let inst: Instance | undefined;
const readiness = new ReadinessList(() => (inst?.server ?? starting)?.readiness ?? []);

/** Not listening yet: not ready, naming what is not, or the worker itself when its plugins are. */
function verdict(continuously: boolean): { ready: boolean; notReady: string } {
  readiness.continuously = continuously;
  const v = readiness.check();
  if (inst !== undefined || !v.ready) return v;
  return { ready: false, notReady: `worker${data.index}` };
}

async function handle(m: ToSecondary): Promise<void> {
  switch (m.type) {
    case 'ports':
      ports = new Map(m.ports);
      portsArrived();
      return;
    case 'reload':
      ports = new Map(m.ports);
      post({ type: 'reply', id: m.id, value: inst === undefined ? 'failed' : await inst.reload(m.loaded) });
      return;
    case 'stop':
      await inst?.stop();
      post({ type: 'reply', id: m.id, value: null });
      channel.close();
      return;
    case 'metrics': {
      const reg = (inst?.server ?? starting)?.metrics;
      post({ type: 'reply', id: m.id, value: reg === undefined ? [] : ((await reg.getMetricsAsJSON()) as never) });
      return;
    }
    case 'ready':
      post({ type: 'reply', id: m.id, value: verdict(m.continuously) });
      return;
  }
}

// A request that fails is logged and answered with nothing (the pool reads that as no answer), instead of ending
// the thread with an unhandled rejection.
channel.on('message', (m: ToSecondary) => {
  handle(m).catch((err: unknown) => {
    log.error({ err }, `worker ${data.index}: ${m.type} failed`);
    if ('id' in m) post({ type: 'reply', id: m.id, value: null });
  });
});

try {
  inst = await start({
    loaded: data.loaded,
    port: data.port,
    log,
    reusePort: true,
    exit: (code) => post({ type: 'exit', code }),
    secondary: {
      ports: async () => {
        await portsKnown;
        return ports!;
      },
      onServer: (server) => (starting = server),
    },
  });
  post({ type: 'started' });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message ?? String(err) });
  process.exit(1);
}
