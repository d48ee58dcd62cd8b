/**
 * One upstream (CoreDNS plugin/pkg/proxy Proxy): its UDP socket and TCP pool, its fail count and its probe loop.
 * `exchange` sends a query with a fresh random ID and returns the decoded reply with that ID still in it.
 */
import { FLAG } from '../../dns/constants.js';
import { type Message, rcodeOf } from '../../dns/message.js';
import { decodeMessage, encodeMessage, readHeader } from '../../dns/wire.js';
import { HealthProbe, type ProbeOptions } from './health.js';
import { ExchangeError, IdSource } from './ids.js';
import type { ForwardStats } from './stats.js';
import { TcpPool, type TcpPoolOptions } from './tcp.js';
import type { UpstreamAddr } from './to.js';
import { UdpChannel } from './udp.js';

/** Transport of one exchange. */
export type UpstreamProto = 'udp' | 'tcp';

/** Everything a Proxy needs besides its address. */
export interface ProxyOptions {
  pool: TcpPoolOptions;
  probe: Omit<ProbeOptions, 'timeoutMs'> & { timeoutMs: number };
  /** Probing is off when max_fails is 0. */
  maxFails: number;
  stats: ForwardStats;
  ids: IdSource;
}

/** One upstream server. */
export class Proxy {
  readonly addr: UpstreamAddr;
  /** Failed probes since the last success (CoreDNS Proxy.fails). */
  fails = 0;
  private readonly udp: UdpChannel;
  private readonly tcp: TcpPool;
  private readonly health: HealthProbe;
  private readonly stats: ForwardStats;
  private readonly maxFails: number;

  constructor(addr: UpstreamAddr, o: ProxyOptions) {
    this.addr = addr;
    this.stats = o.stats;
    this.maxFails = o.maxFails;
    this.udp = new UdpChannel(addr, o.pool.source, o.ids, (hit) => o.stats.connCache(addr.label, 'udp', hit));
    this.tcp = new TcpPool(addr, o.pool, o.ids, (hit) => o.stats.connCache(addr.label, 'tcp', hit));
    this.health = new HealthProbe(
      {
        probe: (m, tcp, timeoutMs) => this.send(m, tcp ? 'tcp' : 'udp', timeoutMs, false),
        failed: () => {
          this.fails++;
          this.stats.healthcheckFailure(addr.label);
        },
        healthy: () => {
          this.fails = 0;
        },
      },
      o.probe,
    );
  }

  /** CoreDNS Proxy.Down: more failed probes than max_fails (never when max_fails is 0). */
  down(maxFails: number = this.maxFails): boolean {
    return maxFails !== 0 && this.fails > maxFails;
  }

  /** Kick off the probe loop after a failed exchange (no-op when one runs or checks are off). */
  healthcheck(): void {
    if (this.maxFails !== 0) this.health.start();
  }

  /** True while a probe loop runs (tests). */
  get probing(): boolean {
    return this.health.active;
  }

  /** Open TCP connections (tests). */
  get tcpConns(): number {
    return this.tcp.size;
  }

  /**
   * Forward `req` over `proto` and return the decoded reply, whose ID is the random one that was sent. Over UDP a
   * reply larger than `bufsize` becomes an empty TC=1 reply, as a Go client with a buffer of that size sees it.
   * Rejects with ExchangeError on a network error, a timeout or an undecodable reply.
   */
  async exchange(req: Message, proto: UpstreamProto, bufsize: number, timeoutMs: number): Promise<Message> {
    this.stats.request(this.addr.label);
    const t0 = process.hrtime.bigint();
    const wire = await this.send(req, proto, timeoutMs);
    let reply: Message;
    if (proto === 'udp' && wire.length > bufsize) {
      const h = readHeader(wire);
      reply = { id: h.id, flags: h.flags | FLAG.TC, question: req.question, answer: [], authority: [], additional: [] };
    } else {
      try {
        reply = decodeMessage(wire);
      } catch (err) {
        throw new ExchangeError(`dns: ${(err as Error).message}`);
      }
    }
    this.stats.response(this.addr.label, rcodeOf(reply), Number(process.hrtime.bigint() - t0) / 1e9);
    return reply;
  }

  /** Close sockets and stop probing. */
  close(): void {
    this.health.stop();
    this.udp.close();
    this.tcp.close();
  }

  private send(req: Message, proto: UpstreamProto, timeoutMs: number, counted = true): Promise<Buffer> {
    // The request is re-encoded with the exchange's own ID; the client's message is not touched.
    const encode = (id: number): Buffer => encodeMessage({ ...req, id });
    return proto === 'tcp' ? this.tcp.exchange(encode, timeoutMs, counted) : this.udp.exchange(encode, timeoutMs, counted);
  }
}
