/** HTTP helpers for the operational plugins' tests (health, ready, prometheus), and a server starter for plugins
 * that lib/plugins/index.ts may not register yet. */
import http from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { ConfigError } from '../../lib/corefile/types.js';
import type { PluginDef } from '../../lib/plugin.js';
import { orderOf } from '../../lib/plugin-order.js';
import { PLUGINS } from '../../lib/plugins/index.js';
import { planServers } from '../../lib/server/plan.js';
import { DnsServer } from '../../lib/server/server.js';

export interface HttpResult {
  status: number;
  body: string;
  type: string | undefined;
}

/** One request to 127.0.0.1:`port`; rejects on connection errors (refused after close). */
export function httpGet(port: number, path: string, method = 'GET'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: res.headers['content-type'] }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export interface Running {
  server: DnsServer;
  /** The first DNS listener's port. */
  port: number;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * Start a server from Corefile text, planning `extra` plugins by hand when the registry does not ship them yet
 * (the same parse → run-order → build path planServers takes).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function startWith(corefile: string, extra: ReadonlyArray<PluginDef<any>>): Promise<Running> {
  const logs: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'info', base: undefined }, stream);
  const blocks = parseCorefile(corefile, 'Corefile', {});
  const missing = new Map(extra.filter((d) => !PLUGINS.has(d.name)).map((d) => [d.name, d]));
  const held = blocks.map((b) => {
    const mine = b.directives.filter((d) => missing.has(d.name.text));
    b.directives = b.directives.filter((d) => !missing.has(d.name.text));
    return mine;
  });
  const plan = planServers(blocks, 53);
  plan.blocks.forEach((bp, i) => {
    const seen = new Set<string>();
    for (const d of held[i]!) {
      const def = missing.get(d.name.text)!;
      // planServers' rule for `once` plugins, same message.
      if (def.once && seen.has(def.name)) throw new ConfigError(d.name, 'this plugin can only be used once per Server Block', def.name);
      seen.add(def.name);
      bp.plugins.push({ def, config: def.parse(d, { zones: bp.zones, keys: bp.keys }), at: d.name });
    }
    bp.plugins.sort((a, b) => orderOf(a.def.name) - orderOf(b.def.name));
  });
  const server = new DnsServer(plan, log);
  let bound;
  try {
    bound = await server.start();
  } catch (err) {
    // As lib/main.ts start(): a failed start runs the shutdown hooks, closing what did open.
    await server.stop();
    throw err;
  }
  return { server, port: bound[0]!.port, logs, stop: () => server.stop() };
}

/** The value of the sample `name` whose label set is exactly `labels` (any order), or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  for (const s of samples(text, name)) {
    if (Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return undefined;
}

/** Every sample of `name` as label-set objects with their values. */
export function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.push({ labels: parseLabels(m[2] ?? ''), value: Number(m[3]) });
  }
  return out;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}
