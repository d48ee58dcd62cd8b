/**
 * A DNS client for end-to-end tests that shares no code with the server: queries are built and replies decoded
 * with dns-packet, sent over real UDP/TCP sockets to 127.0.0.1.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import dnsPacket from 'dns-packet';

export interface AskOpts {
  tcp?: boolean;
  id?: number;
  /** EDNS UDP size; omit for no OPT. */
  edns?: number;
  do?: boolean;
  rd?: boolean;
  qclass?: string;
  timeoutMs?: number;
}

/** Send raw bytes over UDP to `host` (IPv4 or IPv6) and resolve with the first reply, or null after the timeout. */
export function sendUdp(port: number, data: Buffer, timeoutMs = 1500, host = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(t);
      s.close();
      resolve(msg);
    });
    s.send(data, port, host);
  });
}

/** Send one framed message over a new TCP connection and resolve with the reply (null on timeout/close). */
export function sendTcp(port: number, data: Buffer, timeoutMs = 1500): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const done = (v: Buffer | null): void => {
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    sock.on('connect', () => {
      const hdr = Buffer.alloc(2);
      hdr.writeUInt16BE(data.length);
      sock.write(Buffer.concat([hdr, data]));
    });
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    sock.on('error', () => done(null));
    sock.on('close', () => done(null));
  });
}

/** Build a query with dns-packet. */
export function buildQuery(name: string, type: string, o: AskOpts = {}): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (o.edns !== undefined) {
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: o.edns, flags: o.do ? dnsPacket.DNSSEC_OK : 0, options: [] } as unknown as dnsPacket.Answer);
  }
  return dnsPacket.encode({
    type: 'query',
    id: o.id ?? 0x1234,
    flags: o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name, class: (o.qclass ?? 'IN') as 'IN' }],
    additionals,
  });
}

/** Ask `name`/`type` and decode the reply with dns-packet. Rejects on timeout. */
export async function ask(port: number, name: string, type: string, o: AskOpts = {}): Promise<dnsPacket.DecodedPacket & { raw: Buffer }> {
  const q = buildQuery(name, type, o);
  const raw = o.tcp ? await sendTcp(port, q, o.timeoutMs) : await sendUdp(port, q, o.timeoutMs);
  if (raw === null) throw new Error(`no reply for ${name} ${type}`);
  return Object.assign(dnsPacket.decode(raw), { raw });
}

/** Rcode name of a reply (dns-packet exposes it untyped). */
export function rcodeOf(p: dnsPacket.DecodedPacket): string {
  return (p as unknown as { rcode: string }).rcode;
}

/** Answer-section records as `name type data` strings, sorted, for compact assertions. */
export function answers(p: dnsPacket.DecodedPacket, section: 'answers' | 'authorities' | 'additionals' = 'answers'): string[] {
  return (p[section] ?? [])
    .filter((a) => a.type !== 'OPT')
    .map((a) => `${a.name} ${a.type} ${JSON.stringify((a as { data?: unknown }).data)}`)
    .sort();
}

/** Run dig against the server; resolves with stdout. */
export function dig(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args], (err, stdout) => {
      if (err && !stdout) reject(err);
      else resolve(stdout);
    });
  });
}
