// Transport rules of the server core (coredns-behaviour.md §1 and §3), over real UDP and TCP sockets, with a
// client (dns-packet) that shares no code with the server.
import net from 'node:net';
import t from 'tap';
import dnsPacket from 'dns-packet';
import { ask, buildQuery, rcodeOf, sendTcp, sendUdp } from '../support/client.js';
import { startServer, type Started } from '../support/server.js';

const COREFILE = `
.:0 {
    whoami
}
example.org:0 {
    errors
}
empty.test:0 {
}
org:0 {
    whoami
}
`;

let srv: Started;
t.before(async () => {
  srv = await startServer(COREFILE, { level: 'silent' });
});
t.teardown(() => srv.stop());

/** Set header fields of a valid query. */
function patched(mut: (b: Buffer) => void, q = buildQuery('example.com', 'A')): Buffer {
  const b = Buffer.from(q);
  mut(b);
  return b;
}

t.test('whoami over UDP and TCP tells the client its address and port', async (t) => {
  for (const tcp of [false, true]) {
    const r = await ask(srv.port, 'Who.Am.I', 'A', { tcp });
    t.equal(rcodeOf(r), 'NOERROR');
    t.equal(r.flag_aa, true, 'authoritative');
    t.equal(r.questions![0]!.name, 'Who.Am.I', 'question case preserved');
    const a = r.additionals!.find((x) => x.type === 'A')!;
    t.equal(a.name, 'Who.Am.I');
    t.equal((a as { data: string }).data, '127.0.0.1');
    const srv_ = r.additionals!.find((x) => x.type === 'SRV')!;
    t.equal(srv_.name, `_${tcp ? 'tcp' : 'udp'}.Who.Am.I`);
  }
});

t.test('packets shorter than a header and responses are dropped', async (t) => {
  t.equal(await sendUdp(srv.port, Buffer.from([1, 2, 3]), 300), null);
  t.equal(await sendUdp(srv.port, patched((b) => b.writeUInt16BE(b.readUInt16BE(2) | 0x8000, 2)), 300), null);
});

t.test('opcodes other than QUERY and NOTIFY get a header-only NOTIMP with the opcode echoed', async (t) => {
  for (const opcode of [1, 2, 5]) {
    const q = patched((b) => b.writeUInt16BE((b.readUInt16BE(2) & ~0x7800) | (opcode << 11), 2));
    const r = (await sendUdp(srv.port, q))!;
    t.equal(r.length, 12, 'header only');
    t.equal(r.readUInt16BE(0), 0x1234);
    const flags = r.readUInt16BE(2);
    t.equal(flags & 0xf, 4, 'NOTIMP');
    t.equal((flags >> 11) & 0xf, opcode, 'opcode echoed');
    t.ok(flags & 0x8000, 'QR');
  }
});

t.test('bad counts and unparsable bodies get a header-only FORMERR', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['two questions', patched((b) => b.writeUInt16BE(2, 4))],
    ['no question', patched((b) => b.writeUInt16BE(0, 4))],
    ['two answers', patched((b) => b.writeUInt16BE(2, 6))],
    ['three additionals', patched((b) => b.writeUInt16BE(3, 10))],
    ['truncated question', buildQuery('example.com', 'A').subarray(0, 20)],
    ['label overruns', patched((b) => (b[12] = 60))],
  ];
  for (const [name, q] of cases) {
    for (const tcp of [false, true]) {
      const r = tcp ? await sendTcp(srv.port, q) : await sendUdp(srv.port, q);
      t.ok(r, `${name}: replied over ${tcp ? 'tcp' : 'udp'}`);
      t.equal(r!.length, 12, `${name}: header only`);
      t.equal(r!.readUInt16BE(2) & 0xf, 1, `${name}: FORMERR`);
      t.equal(r!.readUInt16BE(2) & 0x0100, 0x0100, `${name}: RD copied`);
    }
  }
});

t.test('EDNS: the client size and DO are echoed; only echo-able options come back', async (t) => {
  const q = dnsPacket.encode({
    type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'x.test', class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK,
      options: [{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }, { code: 65001, data: Buffer.from('ff', 'hex') }] } as unknown as dnsPacket.Answer],
  });
  const r = dnsPacket.decode((await sendUdp(srv.port, q))!);
  const opt = r.additionals!.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number; flag_do: boolean; options: Array<{ code: number }> };
  t.ok(opt, 'OPT present');
  t.equal(opt.udpPayloadSize, 1232);
  t.equal(opt.flag_do, true);
  t.same(opt.options.map((o) => o.code), [10], 'cookie echoed, unknown option dropped');
  const plain = await ask(srv.port, 'x.test', 'A');
  t.notOk(plain.additionals!.some((a) => a.type === 'OPT'), 'no OPT without EDNS in the query');
});

t.test('EDNS version other than 0 gets BADVERS', async (t) => {
  const q = patched((b) => b.writeUInt8(1, b.length - 5), buildQuery('x.test', 'A', { edns: 1232 }));
  const raw = (await sendUdp(srv.port, q))!;
  const r = dnsPacket.decode(raw);
  const opt = r.additionals!.find((a) => a.type === 'OPT') as unknown as { extendedRcode: number; ednsVersion: number; udpPayloadSize: number };
  t.equal(raw.readUInt16BE(2) & 0xf, 0, 'header rcode bits 0');
  t.equal(opt.extendedRcode, 1, 'extended rcode 1 = BADVERS (16)');
  t.equal(opt.ednsVersion, 0);
  t.equal(opt.udpPayloadSize, 0);
  t.equal(r.answers!.length, 0);
});

t.test('routing: longest zone wins, no match and empty blocks REFUSE, DS goes to the parent', async (t) => {
  const sub = await ask(srv.port, 'www.Example.org', 'A', { edns: 1232 });
  t.equal(rcodeOf(sub), 'SERVFAIL', 'example.org block has no answering plugin');
  t.equal(sub.flag_aa, false);
  t.equal(sub.questions![0]!.name, 'www.Example.org');
  t.ok(sub.additionals!.some((a) => a.type === 'OPT'), 'server-written errors echo OPT');
  t.equal(rcodeOf(await ask(srv.port, 'www.example.com', 'A')), 'NOERROR', 'root block');
  t.equal(rcodeOf(await ask(srv.port, 'a.empty.test', 'A')), 'REFUSED', 'block without plugins');
  t.equal(rcodeOf(await ask(srv.port, 'example.org', 'DS')), 'NOERROR', 'DS routed to the parent-most matching block (org, not example.org)');
});

t.test('non-IN classes are REFUSED without chaos/forward in the block', async (t) => {
  t.equal(rcodeOf(await ask(srv.port, 'version.bind', 'TXT', { qclass: 'CH' })), 'REFUSED');
});

t.test('no zone at all → REFUSED', async (t) => {
  const only = await startServer('example.net:0 {\n whoami\n}\n', { level: 'silent' });
  t.teardown(() => only.stop());
  const r = await ask(only.port, 'www.example.com', 'A');
  t.equal(rcodeOf(r), 'REFUSED');
  t.equal(rcodeOf(await ask(only.port, 'www.EXAMPLE.net', 'A')), 'NOERROR');
});

t.test('TCP: pipelined frames in one write and frames split across writes', async (t) => {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const frame = (id: number): Buffer => {
    const q = buildQuery('pipe.test', 'A', { id });
    const h = Buffer.alloc(2);
    h.writeUInt16BE(q.length);
    return Buffer.concat([h, q]);
  };
  const ids: number[] = [];
  let buf = Buffer.alloc(0);
  const got = new Promise<void>((resolve) => {
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        ids.push(buf.readUInt16BE(2));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (ids.length === 3) resolve();
    });
  });
  sock.write(Buffer.concat([frame(1), frame(2)]));
  const third = frame(3);
  sock.write(third.subarray(0, 5));
  await new Promise((r) => setTimeout(r, 50));
  sock.write(third.subarray(5));
  await got;
  t.same(ids.sort(), [1, 2, 3]);
  sock.destroy();
});

t.test('TCP: a connection that sends nothing is closed after the first-read timeout', async (t) => {
  const sock = net.connect(srv.port, '127.0.0.1');
  const began = Date.now();
  await new Promise((r) => sock.once('close', r));
  const waited = Date.now() - began;
  t.ok(waited >= 2500 && waited < 6000, `closed after ${waited} ms (CoreDNS: 3 s)`);
});

t.test('random and mutated packets never crash the server; every reply is well-formed', async (t) => {
  const seeds = [buildQuery('nginx.default.svc.cluster.local', 'A', { edns: 1232 }), buildQuery('x.example.org', 'SRV'), buildQuery('a.b', 'AAAA', { edns: 4096, do: true })];
  let state = 12345;
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const sock = (await import('node:dgram')).createSocket('udp4');
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const N = 3000;
  for (let i = 0; i < N; i++) {
    let p: Buffer;
    if (i % 10 === 0) {
      p = Buffer.alloc(rand(80));
      for (let j = 0; j < p.length; j++) p[j] = rand(256);
    } else {
      p = Buffer.from(seeds[i % seeds.length]!);
      for (let k = 0, n = 1 + rand(4); k < n; k++) p[rand(p.length)] = rand(256);
      if (rand(5) === 0) p = p.subarray(0, rand(p.length));
    }
    sock.send(p, srv.port, '127.0.0.1');
    if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  t.ok(replies.length > N / 3, `${replies.length} replies`);
  let bad = 0;
  for (const r of replies) {
    try {
      dnsPacket.decode(r);
    } catch {
      bad++;
    }
  }
  t.equal(bad, 0, 'every reply decodes');
  t.equal(rcodeOf(await ask(srv.port, 'still.alive', 'A')), 'NOERROR', 'server still answers');
  t.equal(srv.inst.server.panics, 0, 'no plugin threw');
});
