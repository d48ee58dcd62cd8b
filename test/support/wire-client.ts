/**
 * Test clients for the fast path: queries built byte by byte (case, CD and odd shapes kept), a UDP client with many
 * queries in flight, an observer counting general-path and replayed queries, and a Prometheus text reader.
 */
import dgram from 'node:dgram';
import { TYPE } from '../../lib/dns/constants.js';
import type { QueryFacts, QueryObserver } from '../../lib/plugin.js';
import type { Query } from '../../lib/query.js';

const TYPES: Record<string, number> = { ...TYPE };

export interface Wire {
  id: number;
  rd?: boolean;
  cd?: boolean;
  /** EDNS UDP size; undefined: no OPT. */
  edns?: number;
  do?: boolean;
  /** Raw extra OPT options (code, data). */
  options?: Array<[number, Buffer]>;
}

/** A query built by hand, case kept as given (dns-packet would not let us set CD or keep odd shapes). */
export function query(name: string, type: string, o: Wire): Buffer {
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(12);
  hdr.writeUInt16BE(o.id, 0);
  hdr[2] = o.rd === false ? 0 : 1;
  hdr[3] = o.cd ? 0x10 : 0;
  hdr.writeUInt16BE(1, 4);
  hdr.writeUInt16BE(o.edns === undefined ? 0 : 1, 10);
  parts.push(hdr);
  for (const l of name.split('.').filter((x) => x !== '')) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPES[type] ?? Number(type), 0);
  tail.writeUInt16BE(1, 2);
  parts.push(tail);
  if (o.edns !== undefined) {
    const opts = Buffer.concat((o.options ?? []).map(([code, data]) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(code, 0);
      h.writeUInt16BE(data.length, 2);
      return Buffer.concat([h, data]);
    }));
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(o.edns, 3);
    opt[7] = o.do ? 0x80 : 0;
    opt.writeUInt16BE(opts.length, 9);
    parts.push(opt, opts);
  }
  return Buffer.concat(parts);
}

/** One UDP socket, many queries in flight, replies matched by ID. */
export class Client {
  private readonly sock = dgram.createSocket('udp4');
  private readonly pending = new Map<number, (b: Buffer | null) => void>();
  constructor(private readonly port: number) {
    this.sock.on('message', (m) => {
      const id = m.readUInt16BE(0);
      const r = this.pending.get(id);
      if (r) {
        this.pending.delete(id);
        r(m);
      }
    });
  }
  ask(q: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
    const id = q.readUInt16BE(0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, timeoutMs);
      this.pending.set(id, (b) => {
        clearTimeout(timer);
        resolve(b);
      });
      this.sock.send(q, this.port, '127.0.0.1');
    });
  }
  close(): void {
    this.sock.close();
  }
}

/** Counts what the server tells observers: general-path queries and replayed ones. */
export class Counting implements QueryObserver {
  general = 0;
  replays = 0;
  done(_q: Query): void {
    this.general++;
  }
  replayed(_f: QueryFacts): void {
    this.replays++;
  }
}

/** The value of the first sample of `metric` whose labels include `labels`, in Prometheus text format. */
export function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const [lbl, value] = [line.slice(metric.length + 1, line.lastIndexOf('}')), line.slice(line.lastIndexOf('}') + 2)];
    const have = new Map([...lbl.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(value);
  }
  return undefined;
}

