/**
 * TCP transport to one upstream: a small pool of connections, each carrying several exchanges at once told apart
 * by ID (RFC 7766 §6.2.1 pipelining). Idle connections close after `expire` (CoreDNS proxy persistent.go), and a
 * reused connection the peer had closed is retried once on a fresh one (CoreDNS ErrCachedClosed).
 */
import net from 'node:net';
import { ExchangeError, IdSource, joinHostPort } from './ids.js';
import type { UpstreamAddr } from './to.js';
import type { CacheReport } from './udp.js';

/** Pool limits, from the forward config. */
export interface TcpPoolOptions {
  expireMs: number;
  /** Idle connections kept (0 = no limit). */
  maxIdleConns: number;
  /** Connections older than this are not reused (0 = no limit). */
  maxAgeMs: number;
  source: string | null;
}

/** Exchanges pipelined on one connection before another connection is opened. */
const MAX_PIPELINE = 32;

interface Pending {
  resolve(b: Buffer): void;
  reject(e: ExchangeError): void;
  timer: NodeJS.Timeout;
  /** The exchange went out on a connection opened earlier (a cache hit). */
  reused: boolean;
  retry: (() => void) | undefined;
}

class TcpConn {
  readonly sock: net.Socket;
  readonly created = Date.now();
  readonly pending = new Map<number, Pending>();
  connected = false;
  dead = false;
  local = '';
  idleTimer: NodeJS.Timeout | undefined;
  private buf: Buffer = Buffer.alloc(0);

  constructor(sock: net.Socket) {
    this.sock = sock;
  }

  /** Split framed messages out of the stream; calls `deliver` for each whole one. */
  feed(chunk: Buffer, deliver: (msg: Buffer) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + len) break;
      deliver(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
    }
  }
}

/** The TCP connections of one upstream. */
export class TcpPool {
  private readonly to: UpstreamAddr;
  private readonly opts: TcpPoolOptions;
  private readonly ids: IdSource;
  private readonly onCache: CacheReport;
  private readonly conns: TcpConn[] = [];
  private closed = false;

  constructor(to: UpstreamAddr, opts: TcpPoolOptions, ids: IdSource, onCache: CacheReport) {
    this.to = to;
    this.opts = opts;
    this.ids = ids;
    this.onCache = onCache;
  }

  /** Open connections (tests, metrics). */
  get size(): number {
    return this.conns.length;
  }

  /**
   * Send `encode(id)` framed on a pooled connection and resolve with the reply carrying that ID, or reject with
   * Go's wording (`dial tcp B: connect: connection refused`, `read tcp A->B: i/o timeout`) after `timeoutMs`.
   * `counted` = false keeps health probes out of the connection cache counters.
   */
  exchange(encode: (id: number) => Buffer, timeoutMs: number, counted = true): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => this.send(encode, timeoutMs, resolve, reject, true, counted));
  }

  /** Close every connection and fail what is waiting. */
  close(): void {
    this.closed = true;
    for (const c of this.conns.slice()) this.kill(c, new ExchangeError('use of closed network connection'));
  }

  private send(
    encode: (id: number) => Buffer,
    timeoutMs: number,
    resolve: (b: Buffer) => void,
    reject: (e: ExchangeError) => void,
    mayRetry: boolean,
    counted: boolean,
  ): void {
    if (this.closed) {
      reject(new ExchangeError('use of closed network connection'));
      return;
    }
    let conn = this.pick();
    const reused = conn !== undefined;
    if (counted) this.onCache(reused);
    conn ??= this.dial();
    const c = conn;
    if (c.idleTimer) {
      clearTimeout(c.idleTimer);
      c.idleTimer = undefined;
    }
    const id = this.ids.pick(c.pending);
    const wire = encode(id);
    const frame = Buffer.allocUnsafe(2 + wire.length);
    frame.writeUInt16BE(wire.length, 0);
    wire.copy(frame, 2);
    const timer = setTimeout(() => {
      c.pending.delete(id);
      this.idle(c);
      reject(new ExchangeError(c.connected ? `read tcp ${c.local}->${this.to.label}: i/o timeout` : `dial tcp ${this.to.label}: i/o timeout`));
    }, timeoutMs);
    timer.unref();
    const retry = mayRetry && reused ? () => this.send(encode, timeoutMs, resolve, reject, false, counted) : undefined;
    c.pending.set(id, { resolve, reject, timer, reused, retry });
    // Writes before the connection is up are buffered by the socket.
    c.sock.write(frame);
  }

  // A live connection with room for one more exchange that is not too old, least busy first.
  private pick(): TcpConn | undefined {
    const now = Date.now();
    let best: TcpConn | undefined;
    for (const c of this.conns) {
      if (c.dead || c.pending.size >= MAX_PIPELINE) continue;
      if (this.opts.maxAgeMs > 0 && now - c.created >= this.opts.maxAgeMs) continue;
      if (best === undefined || c.pending.size < best.pending.size) best = c;
    }
    return best;
  }

  private dial(): TcpConn {
    const sock = net.connect({
      host: this.to.host,
      port: this.to.port,
      ...(this.opts.source !== null ? { localAddress: this.opts.source } : {}),
    });
    sock.unref();
    sock.setNoDelay(true);
    const c = new TcpConn(sock);
    this.conns.push(c);
    sock.on('connect', () => {
      c.connected = true;
      c.local = joinHostPort(sock.localAddress ?? '', sock.localPort ?? 0);
    });
    sock.on('data', (chunk: Buffer) => c.feed(chunk, (msg) => this.deliver(c, msg)));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const why = c.connected
        ? `read tcp ${c.local}->${this.to.label}: ${goErrno(err)}`
        : `dial tcp ${this.to.label}: connect: ${goErrno(err)}`;
      this.kill(c, new ExchangeError(why));
    });
    sock.on('close', () => this.kill(c, new ExchangeError(`read tcp ${c.local}->${this.to.label}: EOF`, true)));
    return c;
  }

  private deliver(c: TcpConn, msg: Buffer): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = c.pending.get(id);
    if (p === undefined) return;
    c.pending.delete(id);
    clearTimeout(p.timer);
    // Once a reply came back the exchange is not a stale-connection victim any more.
    p.resolve(msg);
    this.idle(c);
  }

  // Start the idle clock, or close the connection when the pool keeps too many idle ones or it is too old.
  private idle(c: TcpConn): void {
    if (c.pending.size > 0 || c.dead) return;
    const tooOld = this.opts.maxAgeMs > 0 && Date.now() - c.created >= this.opts.maxAgeMs;
    const idleCount = this.conns.filter((x) => !x.dead && x.pending.size === 0).length;
    if (tooOld || this.opts.expireMs === 0 || (this.opts.maxIdleConns > 0 && idleCount > this.opts.maxIdleConns)) {
      this.kill(c, undefined);
      return;
    }
    c.idleTimer = setTimeout(() => this.kill(c, undefined), this.opts.expireMs);
    c.idleTimer.unref();
  }

  private kill(c: TcpConn, err: ExchangeError | undefined): void {
    if (c.idleTimer) clearTimeout(c.idleTimer);
    const i = this.conns.indexOf(c);
    if (i >= 0) this.conns.splice(i, 1);
    if (!c.dead) {
      c.dead = true;
      c.sock.destroy();
    }
    for (const [id, p] of c.pending) {
      c.pending.delete(id);
      clearTimeout(p.timer);
      // CoreDNS ErrCachedClosed: the peer closed a connection we took from the cache; try again on a new one.
      if (err?.cachedClosed && p.reused && p.retry && !this.closed) p.retry();
      else p.reject(err ?? new ExchangeError('use of closed network connection'));
    }
  }
}

/** The text Go's syscall errors print for the errno codes a DNS client meets. */
function goErrno(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by peer';
    case 'EHOSTUNREACH':
      return 'no route to host';
    case 'ENETUNREACH':
      return 'network is unreachable';
    case 'EPIPE':
      return 'broken pipe';
    default:
      return err.message;
  }
}
