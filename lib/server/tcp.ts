/**
 * The TCP transport: 2-byte length framing (RFC 1035 §4.2.2), several queries per connection, answered as they
 * complete (RFC 7766 allows out-of-order replies). Timeouts as CoreDNS: 3 s for the first query, 10 s idle after.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { Peer, ReplySink } from '../query.js';
import type { WithReusePort } from '../workers/reuse-port.js';
import type { Dispatcher } from './dispatcher.js';

export const FIRST_READ_TIMEOUT_MS = 3000;
export const IDLE_TIMEOUT_MS = 10000;

/** One client connection: reassembles frames and writes length-prefixed replies. */
class TcpConnection implements ReplySink {
  private pending: Buffer | undefined;
  private readonly peer: Peer;

  constructor(
    private readonly sock: net.Socket,
    private readonly listener: TcpListener,
  ) {
    const addr = sock.remoteAddress ?? '';
    const mapped = addr.startsWith('::ffff:') && addr.includes('.');
    this.peer = { address: mapped ? addr.slice(7) : addr, port: sock.remotePort ?? 0, family: sock.remoteFamily === 'IPv6' && !mapped ? 6 : 4 };
    sock.setNoDelay(true);
    sock.setTimeout(FIRST_READ_TIMEOUT_MS, () => sock.destroy());
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', () => sock.destroy());
  }

  private onData(chunk: Buffer): void {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.sock.setTimeout(IDLE_TIMEOUT_MS);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (len === 0) {
        // A zero-length frame cannot be a message; miekg/dns closes the connection.
        this.sock.destroy();
        return;
      }
      if (buf.length < 2 + len) break;
      const frame = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      this.listener.dispatcher.handle(frame, 'tcp', this.peer, this);
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined;
  }

  /** ReplySink: length-prefix and write, unless the client has gone. */
  send(wire: Buffer): void {
    if (this.sock.destroyed || !this.sock.writable) return;
    const hdr = Buffer.allocUnsafe(2);
    hdr.writeUInt16BE(wire.length, 0);
    this.sock.write(Buffer.concat([hdr, wire]));
  }
}

export class TcpListener {
  private server: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();

  /** Who handles the queries, open connections included; swapped in place on reload. */
  dispatcher: Dispatcher;

  constructor(
    dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {
    this.dispatcher = dispatcher;
  }

  /**
   * Listen on `host:port` ('' = every address). Resolves with the bound port. With `reusePort` the address is
   * shared with the other workers of the process (SO_REUSEPORT: the kernel spreads connections over them).
   */
  listen(host: string, port: number, reusePort = false): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer((sock) => {
        this.conns.add(sock);
        sock.on('close', () => this.conns.delete(sock));
        new TcpConnection(sock, this);
      });
      srv.once('error', reject);
      const opts: WithReusePort<net.ListenOptions> = { port, exclusive: true };
      if (host !== '') opts.host = host;
      if (reusePort) opts.reusePort = true;
      srv.listen(opts, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.log.error({ err }, 'tcp server error'));
        this.server = srv;
        resolve((srv.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stop accepting and drop open connections. */
  close(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    for (const c of this.conns) c.destroy();
    return new Promise((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
  }
}
