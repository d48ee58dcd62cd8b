#!/usr/bin/env node
// Use: node bench/upstream.mjs ZONE_JSON [port=15355] [host=127.0.0.1]
//
// The bench upstream: what `forward` talks to in the kubeadm Corefile mode of bench/run.sh (-C kubeadm), standing
// in for the node's resolver. It answers from ZONE_JSON (DIR/upstream.json, written by bench/gen-cluster.mjs) as a
// recursive resolver would: RA set, AA clear, A/AAAA records with the zone's TTL (300 s), a CNAME followed by its
// target's records in the same reply, NODATA (NOERROR, SOA in authority) for a type the name lacks, NXDOMAIN with
// an SOA for every other name (the loop plugin's probe, health checks, PTR fallthrough, the mix's misspelt names).
// Negative answers carry an SOA whose TTL and MINIMUM are the zone's TTL, so the cache stores them like real ones.
//
// It counts what it is asked: on SIGUSR1 it prints one JSON line {"queries":N,...} to stdout, so the harness can
// tell how many queries reached it (cache misses) during a measured run. Replies are precomputed per name and type
// (the question is copied from the request, so the client's case is kept); a request with an OPT gets a bare OPT
// back. Plain Node, no build, no dependencies; loopback by default.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';

const [zoneFile, portArg, hostArg] = process.argv.slice(2);
if (!zoneFile) {
  console.error('Use: node bench/upstream.mjs ZONE_JSON [port] [host]');
  process.exit(2);
}
const port = Number(portArg ?? 15355);
const host = hostArg ?? '127.0.0.1';
const zone = JSON.parse(readFileSync(zoneFile, 'utf8'));
const TTL = zone.ttl ?? 300;
const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, OPT: 41 };

/** A name in wire form, uncompressed. */
function wireName(name) {
  const out = [];
  for (const l of name.replace(/\.$/, '').split('.').filter(Boolean)) out.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}
const u16 = (n) => Buffer.from([n >> 8, n & 255]);
const u32 = (n) => Buffer.from([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
/** One resource record: owner given as wire bytes (a name or a 2-byte compression pointer). */
const rr = (owner, type, rdata, ttl = TTL) => Buffer.concat([owner, u16(type), u16(1), u32(ttl), u16(rdata.length), rdata]);
const registrable = (name) => name.split('.').slice(-2).join('.');
const tld = (name) => name.split('.').slice(-1).join('.');
const ptr = (off) => Buffer.from([0xc0 | (off >> 8), off & 255]);
const v4 = (ip) => Buffer.from(ip.split('.').map(Number));
function v6(ip) {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))));
}
/** The SOA a resolver passes on with a negative answer, for the zone `apex` ('' is the root). */
function soa(apex) {
  const rdata = Buffer.concat([wireName(`ns1.${apex}`), wireName(`hostmaster.${apex}`), u32(2026010101), u32(7200), u32(900), u32(1209600), u32(TTL)]);
  return rr(wireName(apex), T.SOA, rdata);
}

/**
 * The reply after the question, for a question of `qlen` wire bytes, and its section counts. The owner of the first
 * answer points at the question (offset 12); a CNAME's target is written once and later records point at it.
 */
function replyTail(name, type, qlen) {
  const rec = zone.names[name];
  // The root exists (forward's health check asks `. NS`); any other unknown name does not, so its TLD's SOA.
  if (!rec) return name === '' ? { rcode: 0, an: [], ns: [soa('')] } : { rcode: 3, an: [], ns: [soa(tld(name))] };
  const want = type === T.A ? rec.a : type === T.AAAA ? rec.aaaa : undefined;
  const an = [];
  let owner = ptr(12);
  if (rec.cname) {
    const target = wireName(rec.cname);
    an.push(rr(owner, T.CNAME, target));
    owner = ptr(12 + qlen + 4 + 12); // header, question, then the CNAME record's owner pointer + fixed fields
  }
  if (want) for (const ip of want) an.push(rr(owner, type, type === T.A ? v4(ip) : v6(ip)));
  const ns = want || (rec.cname && type === T.CNAME) ? [] : [soa(registrable(rec.cname ?? name))];
  return { rcode: 0, an, ns };
}

/** Precomputed replies, keyed `name/type` in lower case: header (ID and RD patched per request) + records. */
const cache = new Map();
function reply(name, type, qlen) {
  const key = `${name}/${type}`;
  let r = cache.get(key);
  if (!r) {
    const { rcode, an, ns } = replyTail(name, type, qlen);
    r = { rcode, an: an.length, ns: ns.length, records: Buffer.concat([...an, ...ns]) };
    cache.set(key, r);
  }
  return r;
}

const OPT = Buffer.concat([Buffer.from([0]), u16(T.OPT), u16(1232), u32(0), u16(0)]);
const stats = { queries: 0, noerror: 0, nxdomain: 0, formerr: 0 };

/** Reads the question name (lower case, no trailing dot) at 12; returns it and the offset after the name. */
function readName(msg) {
  const labels = [];
  let off = 12;
  while (off < msg.length) {
    const len = msg[off];
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: off + 1 };
    if (len > 63 || off + 1 + len > msg.length) return null; // compressed or broken: not from a sane forwarder
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return null;
}

const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  if (msg.length < 12 || msg[2] & 0x80) return;
  stats.queries++;
  const q = msg.readUInt16BE(4) === 1 ? readName(msg) : null;
  if (!q || q.end + 4 > msg.length) {
    stats.formerr++;
    const res = Buffer.from(msg.subarray(0, 12));
    res[2] = 0x80 | (msg[2] & 0x79);
    res[3] = 0x80 | 1; // RA, FORMERR
    res.fill(0, 4, 12);
    sock.send(res, rinfo.port, rinfo.address);
    return;
  }
  const type = msg.readUInt16BE(q.end);
  const qlen = q.end - 12;
  const r = reply(q.name, type, qlen);
  const edns = msg.readUInt16BE(10) > 0;
  const head = Buffer.alloc(12);
  msg.copy(head, 0, 0, 2);
  head[2] = 0x80 | (msg[2] & 0x79); // QR, opcode and RD as asked
  head[3] = 0x80 | r.rcode; // RA
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(r.an, 6);
  head.writeUInt16BE(r.ns, 8);
  head.writeUInt16BE(edns ? 1 : 0, 10);
  const parts = [head, msg.subarray(12, q.end + 4), r.records];
  if (edns) parts.push(OPT);
  if (r.rcode === 3) stats.nxdomain++;
  else stats.noerror++;
  sock.send(Buffer.concat(parts), rinfo.port, rinfo.address);
});
sock.on('error', (err) => {
  console.error(`upstream: ${err.message}`);
  process.exit(1);
});
process.on('SIGUSR1', () => console.log(JSON.stringify(stats)));
sock.bind(port, host, () =>
  console.log(`upstream listening on ${host}:${port}: ${Object.keys(zone.names).length} names, ${zone.nxdomain?.length ?? 0} known NXDOMAIN`),
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => sock.close(() => process.exit(0)));
