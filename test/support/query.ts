/** Test helpers: build real Query objects without a socket, capturing what the chain writes. */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Message } from '../../lib/dns/message.js';
import { CLASS, FLAG } from '../../lib/dns/constants.js';
import type { Directive } from '../../lib/corefile/types.js';
import type { Handler, PluginEnv, QueryObserver, Readiness } from '../../lib/plugin.js';
import { Query, type Proto, type ReplySink } from '../../lib/query.js';

/** A sink that keeps the last wire reply. */
export class CaptureSink implements ReplySink {
  wire: Buffer | undefined;
  send(wire: Buffer): void {
    this.wire = wire;
  }
}

export interface QueryOpts {
  proto?: Proto;
  id?: number;
  qclass?: number;
  rd?: boolean;
  /** EDNS UDP size; omit for a query without OPT. */
  edns?: number;
  do?: boolean;
  remote?: string;
  depth?: number;
}

/** Build a Query for `name`/`type` as a client would send it. */
export function makeQuery(name: string, type: number, o: QueryOpts = {}): { q: Query; sink: CaptureSink } {
  const req: Message = {
    id: o.id ?? 4242,
    flags: o.rd === false ? 0 : FLAG.RD,
    question: [{ name: name.endsWith('.') ? name : `${name}.`, type, class: o.qclass ?? CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
  };
  if (o.edns !== undefined) req.edns = { udpSize: o.edns, extRcode: 0, version: 0, do: o.do ?? false, z: 0, options: [] };
  const sink = new CaptureSink();
  const remote = o.remote ?? '10.244.0.5';
  const q = new Query(req, Buffer.alloc(0), o.proto ?? 'udp', { address: remote, port: 53412, family: remote.includes(':') ? 6 : 4 }, 'dns://:53', sink, undefined, o.depth ?? 0);
  return { q, sink };
}

/** Serve a query through a handler and return the rcode plus what was written (undefined if nothing was). */
export async function serve(h: Handler, name: string, type: number, o: QueryOpts = {}): Promise<{ rcode: number; msg: Message | undefined; q: Query }> {
  const { q } = makeQuery(name, type, o);
  const rcode = await h.serve(q);
  return { rcode, msg: q.response, q };
}

/** A handler at the end of a chain that records it was reached and answers NOERROR with nothing. */
export class NextRecorder implements Handler {
  readonly name = 'next';
  reached = 0;
  serve(q: Query): number {
    this.reached++;
    return q.reply(q.newReply(0), this.name);
  }
}

/** A PluginEnv for unit tests: silent logger, recorded hooks, and a resolve() answered by `resolver`. */
export function testEnv(zones: string[] = ['.'], resolver?: (name: string, type: number) => Message | Promise<Message>): PluginEnv & {
  startups: (() => void | Promise<void>)[];
  shutdowns: (() => void | Promise<void>)[];
  readinessList: Readiness[];
  observers: QueryObserver[];
  invalidated: string[];
} {
  const startups: (() => void | Promise<void>)[] = [];
  const shutdowns: (() => void | Promise<void>)[] = [];
  const readiness: Readiness[] = [];
  const observers: QueryObserver[] = [];
  const invalidated: string[] = [];
  return {
    log: pino({ level: 'silent' }),
    keys: zones.map((zone) => ({ scheme: 'dns', zone, port: 53 })),
    zones,
    hosts: [],
    instance: {},
    plugins: [],
    onStartup: (fn) => void startups.push(fn),
    onShutdown: (fn) => void shutdowns.push(fn),
    onFinalShutdown: (fn) => void shutdowns.push(fn),
    addReadiness: (r) => void readiness.push(r),
    readiness: () => readiness,
    metrics: new Registry(),
    observe: (o) => void observers.push(o),
    panics: () => 0,
    onListening: () => undefined,
    invalidate: (suffix) => void invalidated.push(suffix),
    onInvalidate: () => undefined,
    fatal: (msg) => {
      throw new Error(`fatal: ${msg}`);
    },
    resolve: async (name, type, from) => {
      if (resolver) return resolver(name, type);
      const { q } = makeQuery(name, type, { depth: from.depth + 1 });
      return q.newReply(3);
    },
    startups,
    shutdowns,
    readinessList: readiness,
    observers,
    invalidated,
  };
}

/** Build a Directive tree from a tiny Corefile-like snippet without the parser: `dir('kubernetes', ['cluster.local'], [dir('ttl', ['30'])])`. */
export function dir(name: string, args: string[] = [], block: Directive[] | null = null, line = 1): Directive {
  const t = (text: string) => ({ text, file: 'Corefile', line });
  return { name: t(name), args: args.map(t), block };
}
