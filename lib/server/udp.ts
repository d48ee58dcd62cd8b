/** The UDP transport: one socket per listener, every datagram handed to the dispatcher. */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Peer, ReplySink } from '../query.js';
import type { WithReusePort } from '../workers/reuse-port.js';
import type { Dispatcher } from './dispatcher.js';

/** Ask the kernel for a large receive buffer so bursts queue instead of dropping (Linux caps it at 2×rmem_max). */
const RECV_BUFFER = 4 * 1024 * 1024;

/** Strip the IPv4-mapped prefix a dual-stack socket reports, so plugins and logs see plain IPv4. */
function unmap(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * The socket's address lookup (dgram's `lookup` option). dgram looks up the destination of every send, and the
 * default, dns.lookup, answers even an IP literal on the next tick: a queued tick, its async-context bookkeeping and
 * the drain of the tick queue for every reply, ~5% of a replayed query's CPU under load (more where other plugins
 * keep the tick machinery busy). Replies always go to the literal address the datagram came from, so an IP literal
 * is passed straight back, synchronously (dgram supports that: connected sockets skip the lookup the same way);
 * anything else still goes to dns.lookup.
 */
export function literalLookup(address: string, options: dns.LookupOneOptions | number, callback: LookupCallback): void {
  const family = isIP(address);
  if (family !== 0) return callback(null, address, family);
  dns.lookup(address, options as dns.LookupOneOptions, callback);
}

export class UdpListener implements ReplySink {
  private socket: dgram.Socket | undefined;
  private dualStack = false;

  /** Who handles the datagrams; swapped in place on reload so the socket never closes. */
  dispatcher: Dispatcher;

  constructor(
    dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {
    this.dispatcher = dispatcher;
  }

  /**
   * Bind `host:port` ('' = every address: a dual-stack IPv6 socket, or IPv4 only where IPv6 is unavailable).
   * Resolves with the bound port (useful when `port` is 0). With `reusePort` the address is shared with the other
   * workers of the process (SO_REUSEPORT: the kernel spreads datagrams over the sockets by source address and port).
   */
  async listen(host: string, port: number, reusePort = false): Promise<number> {
    const v6 = host === '' || host.includes(':');
    try {
      return await this.bind(v6 ? 'udp6' : 'udp4', host === '' ? '::' : host, port, reusePort);
    } catch (err) {
      if (host !== '' || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
      return this.bind('udp4', '0.0.0.0', port, reusePort);
    }
  }

  private bind(type: 'udp4' | 'udp6', address: string, port: number, reusePort: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const options: WithReusePort<dgram.SocketOptions> = { type, ipv6Only: false, recvBufferSize: RECV_BUFFER, lookup: literalLookup };
      if (reusePort) options.reusePort = true;
      const s = dgram.createSocket(options);
      const fail = (err: Error): void => {
        s.close();
        reject(err);
      };
      s.once('error', fail);
      s.bind({ port, address, exclusive: true }, () => {
        s.off('error', fail);
        s.on('error', (err) => this.log.error({ err }, 'udp socket error'));
        s.on('message', (msg, rinfo) => {
          const family = rinfo.family === 'IPv6' && !rinfo.address.startsWith('::ffff:') ? 6 : 4;
          // Fast path first: a memoized reply goes straight back to the address as the socket reported it.
          const out = this.dispatcher.replay(msg, 'udp', family);
          if (out !== undefined) {
            s.send(out, rinfo.port, rinfo.address);
            return;
          }
          const peer: Peer = { address: unmap(rinfo.address), port: rinfo.port, family };
          this.dispatcher.handle(msg, 'udp', peer, this);
        });
        this.socket = s;
        this.dualStack = type === 'udp6';
        resolve(s.address().port);
      });
    });
  }

  /** ReplySink: send a reply datagram back to the peer. */
  send(wire: Buffer, to: Peer): void {
    const s = this.socket;
    if (s === undefined) return;
    const address = this.dualStack && to.family === 4 ? `::ffff:${to.address}` : to.address;
    // No completion callback: it costs a closure and a callback per reply on the hottest path, and send errors
    // (a vanished peer) surface on the socket's 'error' event, which is logged.
    s.send(wire, to.port, address);
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}
