/**
 * A scriptable DNS upstream for forward tests: UDP and TCP on the same 127.0.0.1 port (chosen by the OS), built with
 * dns-packet so it shares no code with clusterdns. Each query is recorded; `script` decides what happens to it.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

/** What to do with one query. Everything is optional: the default is a normal answer. */
export interface Action {
  /** Send nothing. */
  drop?: boolean;
  /** Wait this long before replying. */
  delayMs?: number;
  /** Reply rcode (numeric, 0-15). */
  rcode?: number;
  /** Answer records (default: one A 192.0.2.1 for A questions, one NS for NS questions). */
  answers?: dnsPacket.Answer[];
  /** Over UDP: reply with TC=1 and no records. Over TCP the full answer is sent. */
  truncate?: boolean;
  /** Reply with another ID only (the client must ignore it and time out). */
  wrongId?: boolean;
  /** Reply with the right ID but for another question. */
  wrongQuestion?: boolean;
  /** Over TCP: close the connection (FIN) instead of replying. */
  hangUp?: boolean;
  /** First send a forged reply (other ID, answer 6.6.6.6), then the real one. */
  spoofFirst?: boolean;
}

/** One query the upstream saw. */
export interface Seen {
  proto: 'udp' | 'tcp';
  id: number;
  name: string;
  type: string;
  rd: boolean;
  /** EDNS UDP size in the query, or undefined without OPT. */
  udpSize: number | undefined;
}

/** Decides per query; return undefined for the default answer. */
export type Script = (q: Seen) => Action | undefined;

/** A fake upstream resolver. */
export class FakeUpstream {
  readonly port: number;
  readonly queries: Seen[] = [];
  script: Script;
  private readonly udp: dgram.Socket;
  private readonly tcp: net.Server;
  private readonly conns = new Set<net.Socket>();
  private closed = false;

  private constructor(port: number, udp: dgram.Socket, tcp: net.Server, script: Script) {
    this.port = port;
    this.udp = udp;
    this.tcp = tcp;
    this.script = script;
    udp.on('message', (msg, rinfo) => this.handle(msg, 'udp', () => undefined, (b) => udp.send(b, rinfo.port, rinfo.address)));
    tcp.on('connection', (sock) => {
      this.conns.add(sock);
      sock.on('close', () => this.conns.delete(sock));
      sock.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          this.handle(msg, 'tcp', () => sock.end(), (b) => {
            if (sock.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(b.length);
            sock.write(Buffer.concat([len, b]));
          });
        }
      });
    });
  }

  /** Start on a free port that is free for both UDP and TCP. */
  static async start(script: Script = () => undefined): Promise<FakeUpstream> {
    for (let tries = 0; tries < 20; tries++) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((res) => udp.bind(0, '127.0.0.1', res));
      const port = udp.address().port;
      const tcp = net.createServer();
      const ok = await new Promise<boolean>((res) => {
        tcp.once('error', () => res(false));
        tcp.listen(port, '127.0.0.1', () => res(true));
      });
      if (ok) return new FakeUpstream(port, udp, tcp, script);
      udp.close();
    }
    throw new Error('no free port for a fake upstream');
  }

  /** `127.0.0.1:PORT`, as written in a Corefile. */
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Queries seen, optionally only over one transport or for one name. */
  count(proto?: 'udp' | 'tcp', name?: string): number {
    return this.queries.filter((q) => (proto === undefined || q.proto === proto) && (name === undefined || q.name === name)).length;
  }

  /** Close the established TCP connections (the server keeps listening). */
  dropConnections(): void {
    for (const s of this.conns) s.destroy();
  }

  /** Stop listening and close everything. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropConnections();
    await new Promise<void>((res) => this.tcp.close(() => res()));
    await new Promise<void>((res) => this.udp.close(() => res()));
  }

  private handle(msg: Buffer, proto: 'udp' | 'tcp', hangUp: () => void, send: (b: Buffer) => void): void {
    let req: dnsPacket.DecodedPacket;
    try {
      req = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = req.questions?.[0];
    const opt = req.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const seen: Seen = {
      proto,
      id: req.id ?? 0,
      name: q?.name ?? '',
      type: q?.type ?? '',
      rd: req.flag_rd,
      udpSize: opt?.udpPayloadSize,
    };
    this.queries.push(seen);
    const act = this.script(seen) ?? {};
    if (act.drop) return;
    if (act.hangUp) {
      hangUp();
      return;
    }
    const reply = (): void => {
      if (act.spoofFirst) send(this.build(req, seen, { ...act, answers: [{ type: 'A', name: seen.name, ttl: 60, data: '6.6.6.6' }] }, proto, (seen.id + 1) & 0xffff));
      send(this.build(req, seen, act, proto, act.wrongId ? (seen.id + 1) & 0xffff : seen.id));
    };
    if (act.delayMs) setTimeout(reply, act.delayMs);
    else reply();
  }

  private build(req: dnsPacket.DecodedPacket, seen: Seen, act: Action, proto: 'udp' | 'tcp', id: number): Buffer {
    const truncated = act.truncate === true && proto === 'udp';
    let answers = act.answers;
    if (answers === undefined) {
      if (seen.type === 'A') answers = [{ type: 'A', name: seen.name, ttl: 60, data: '192.0.2.1' }];
      else if (seen.type === 'NS') answers = [{ type: 'NS', name: seen.name, ttl: 60, data: 'ns.fake.' }];
      else answers = [];
    }
    const questions = act.wrongQuestion ? [{ name: 'other.example', type: 'A' as const, class: 'IN' as const }] : req.questions;
    const flags = (req.flags ?? 0) & (dnsPacket.RECURSION_DESIRED | 0x7800);
    return dnsPacket.encode({
      type: 'response',
      id,
      flags: flags | dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | (act.rcode ?? 0),
      questions,
      answers: truncated ? [] : answers,
      additionals: req.additionals?.filter((a) => a.type === 'OPT'),
    });
  }
}

/** Poll `cond` every 10 ms until it holds (true) or `ms` pass (false). */
export async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
