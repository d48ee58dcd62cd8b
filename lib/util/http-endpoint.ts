/**
 * The small HTTP side of the operational plugins (health, ready, prometheus): Go-style `host:port` parsing, one
 * listener per address shared by every block that names it, and the shutdown state they all read. State is kept per
 * server instance, keyed on its metrics registry, so two servers in one process never share a listener.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, type Token } from '../corefile/types.js';
import { isSecondary } from './worker-peers.js';

/** A listen address as written (`:8080`, `localhost:9153`, `[::1]:8181`), split. */
export interface HostPort {
  /** The address exactly as written; the key that makes blocks share a listener. */
  addr: string;
  /** '' for every address. */
  host: string;
  /** The port text; checked to be a number only when listening (CoreDNS accepts `bla:a` at parse time). */
  port: string;
}

/**
 * Split `host:port` the way Go's net.SplitHostPort does, with its error texts (`address bla: missing port in
 * address`), which CoreDNS's health, ready and prometheus setups return as is.
 */
export function splitHostPort(tok: Token, plugin: string): HostPort {
  const s = tok.text;
  const fail = (why: string): never => {
    throw new ConfigError(tok, `address ${s}: ${why}`, plugin);
  };
  const i = s.lastIndexOf(':');
  if (i < 0) fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (s[0] === '[') {
    const end = s.indexOf(']');
    if (end < 0) fail("missing ']' in address");
    if (end + 1 === s.length) fail('missing port in address');
    if (end + 1 !== i) fail(s[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = s.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = s.slice(0, i);
    if (host.includes(':')) fail('too many colons in address');
  }
  if (s.indexOf('[', j) >= 0) fail("unexpected '[' in address");
  if (s.indexOf(']', k) >= 0) fail("unexpected ']' in address");
  return { addr: s, host, port: s.slice(i + 1) };
}

/** Parse the default address of a plugin (a constant, so it cannot fail). */
export function defaultHostPort(addr: string): HostPort {
  const i = addr.lastIndexOf(':');
  return { addr, host: addr.slice(0, i), port: addr.slice(i + 1) };
}

/** Answers one path of an endpoint. */
export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/**
 * One HTTP listener serving fixed paths; every other path gets Go's ServeMux 404 (`404 page not found`). Any method
 * is accepted on a known path, as CoreDNS's handlers do not look at it.
 */
export class HttpEndpoint {
  readonly where: HostPort;
  private readonly routes = new Map<string, Route>();
  private server: http.Server | undefined = undefined;
  /** The bound port once listening (the real one when the address asked for port 0), else 0. */
  port = 0;
  /** False in a secondary worker (lib/workers): the primary's listener answers for the whole process. */
  private readonly binds: boolean;

  constructor(where: HostPort, binds = true) {
    this.where = where;
    this.binds = binds;
  }

  /** Serve `path` with `route`. */
  route(path: string, route: Route): void {
    this.routes.set(path, route);
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /**
   * Open the listener; rejects with the listen error (port in use, bad port) so start-up fails like CoreDNS's.
   * Resolves with 0, listening on nothing, for an endpoint that does not bind.
   */
  async listen(): Promise<number> {
    const { host, port: portText, addr } = this.where;
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
      throw new Error(`listen tcp ${addr}: unknown port ${JSON.stringify(portText)}`);
    }
    if (!this.binds) return 0;
    const server = http.createServer((req, res) => this.dispatch(req, res));
    // CoreDNS ready/metrics servers use 5 s timeouts; an idle keep-alive client must not hold shutdown.
    server.keepAliveTimeout = 5000;
    server.requestTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const onListening = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (host === '') server.listen(Number(portText), onListening);
      else server.listen(Number(portText), host, onListening);
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  /** Stop listening and drop open connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = this.routes.get(q < 0 ? url : url.slice(0, q));
    if (route === undefined) {
      reply(res, 404, '404 page not found\n');
      return;
    }
    Promise.resolve()
      .then(() => route(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) reply(res, 500, `${(err as Error)?.message ?? String(err)}\n`);
        else res.destroy();
      });
  }
}

/** Write a plain-text reply (Go's handlers sniff `text/plain; charset=utf-8` for these bodies). */
export function reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Per server instance: the endpoints of every operational plugin, and whether shutdown has begun. */
interface Shared {
  endpoints: Map<string, HttpEndpoint>;
  shuttingDown: boolean;
}

// Keyed on the registry: one per process run (a reload keeps it), so listeners survive reloads and two servers in
// one test process stay apart.
const SHARED = new WeakMap<Registry, Shared>();

function shared(reg: Registry): Shared {
  let s = SHARED.get(reg);
  if (s === undefined) SHARED.set(reg, (s = { endpoints: new Map(), shuttingDown: false }));
  return s;
}

/**
 * The endpoint of `plugin` at `where.addr` for this server instance, and whether this call created it (the caller
 * then opens and closes it). Blocks naming the same address share it, as CoreDNS keeps one listener per address.
 */
export function sharedEndpoint(reg: Registry, plugin: string, where: HostPort): { ep: HttpEndpoint; created: boolean } {
  const key = `${plugin} ${where.addr}`;
  const map = shared(reg).endpoints;
  const ep = map.get(key);
  if (ep !== undefined) return { ep, created: false };
  const fresh = new HttpEndpoint(where, !isSecondary(reg));
  map.set(key, fresh);
  return { ep: fresh, created: true };
}

/**
 * The port `plugin`'s listener for the address written as `addr` is bound to, or undefined when it is not
 * listening. Tests write `127.0.0.1:0` and read the real port here (CoreDNS's metrics plugin has ListenAddr).
 */
export function boundPort(reg: Registry, plugin: string, addr: string): number | undefined {
  const ep = shared(reg).endpoints.get(`${plugin} ${addr}`);
  return ep?.listening ? ep.port : undefined;
}

// Which (service, instance) pairs have registered their per-instance hooks already.
const DONE = new WeakMap<object, WeakSet<object>>();

/**
 * Run `register` once per server instance for `service`. Services live as long as the registry — across reloads —
 * but hooks belong to an instance: the instance that is running when the process stops runs its final hooks.
 */
export function oncePerInstance(service: object, instance: object, register: () => void): void {
  let seen = DONE.get(service);
  if (seen === undefined) DONE.set(service, (seen = new WeakSet()));
  if (seen.has(instance)) return;
  seen.add(instance);
  register();
}

/** Mark the server instance as shutting down (ready answers `503 Shutting down` from then on). */
export function markShuttingDown(reg: Registry): void {
  shared(reg).shuttingDown = true;
}

/** True once any plugin's shutdown hook has begun. */
export function isShuttingDown(reg: Registry): boolean {
  return shared(reg).shuttingDown;
}
