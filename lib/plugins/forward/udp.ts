/**
 * UDP transport to one upstream: one connected socket (so datagrams from any other source are dropped by the
 * kernel) shared by all exchanges, which are told apart by a random ID per exchange. A datagram whose ID is not
 * pending (late, or spoofed) is ignored and the exchange keeps waiting, as CoreDNS's proxy connect.go does.
 */
import dgram from 'node:dgram';
import { ExchangeError, IdSource, joinHostPort } from './ids.js';
import type { UpstreamAddr } from './to.js';

interface Pending {
  resolve(b: Buffer): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Reports whether an exchange reused the socket (hit) or had to open it (miss). */
export type CacheReport = (hit: boolean) => void;

/** The shared UDP socket of one upstream. */
export class UdpChannel {
  private readonly to: UpstreamAddr;
  private readonly source: string | null;
  private readonly ids: IdSource;
  private readonly onCache: CacheReport;
  private sock: dgram.Socket | undefined;
  private ready: Promise<void> | undefined;
  private local = '';
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(to: UpstreamAddr, source: string | null, ids: IdSource, onCache: CacheReport) {
    this.to = to;
    this.source = source;
    this.ids = ids;
    this.onCache = onCache;
  }

  /** Number of exchanges waiting for a reply. */
  get inflight(): number {
    return this.pending.size;
  }

  /**
   * Send the message `encode(id)` builds for a fresh random ID and resolve with the reply datagram carrying that
   * ID, or reject with Go's wording (`read udp A->B: i/o timeout`) after `timeoutMs`. `counted` = false keeps
   * health probes out of the connection cache counters.
   */
  exchange(encode: (id: number) => Buffer, timeoutMs: number, counted = true): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ExchangeError('use of closed network connection'));
    const hit = this.sock !== undefined;
    if (counted) this.onCache(hit);
    if (!hit) this.open();
    const sock = this.sock!;
    const id = this.ids.pick(this.pending);
    const wire = encode(id);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ExchangeError(`read udp ${this.local}->${this.to.label}: i/o timeout`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      this.ready!.then(
        () => {
          if (this.sock !== sock || !this.pending.has(id)) return;
          sock.send(wire, (err) => {
            if (err) this.settle(id, new ExchangeError(`write udp ${this.local}->${this.to.label}: ${err.message}`));
          });
        },
        // drop() has already failed every pending exchange with the dial error.
        () => undefined,
      );
    });
  }

  /** Close the socket and fail whatever is still waiting. */
  close(): void {
    this.closed = true;
    this.drop(new ExchangeError('use of closed network connection'));
  }

  private open(): void {
    const sock = dgram.createSocket(this.to.family === 6 ? 'udp6' : 'udp4');
    this.sock = sock;
    sock.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => reject(err);
      sock.once('error', fail);
      const connect = (): void =>
        sock.connect(this.to.port, this.to.host, () => {
          sock.off('error', fail);
          const a = sock.address();
          this.local = joinHostPort(a.address, a.port);
          resolve();
        });
      if (this.source !== null) sock.bind({ address: this.source, port: 0 }, connect);
      else connect();
    });
    this.ready.catch((err: Error) => {
      if (this.sock === sock) this.drop(new ExchangeError(`dial udp ${this.to.label}: ${err.message}`));
    });
    sock.on('message', (msg) => this.onMessage(msg));
    sock.on('error', (err) => {
      if (this.sock === sock) this.drop(new ExchangeError(`read udp ${this.local}->${this.to.label}: ${err.message}`));
    });
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    // Not ours (spoofed, or the answer to an exchange that already timed out): keep waiting.
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  private settle(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
  }

  // Forget the socket (a new one is opened on next use) and fail its exchanges with `err`.
  private drop(err: Error): void {
    const sock = this.sock;
    this.sock = undefined;
    this.ready = undefined;
    if (sock !== undefined) {
      try {
        sock.close();
      } catch {
        // already closed
      }
    }
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
