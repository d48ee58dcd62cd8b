#!/usr/bin/env node
// Use: node bench/responder.mjs [port=15400] [host=127.0.0.1]
//
// The fixed-response ceiling: a UDP server that answers every datagram with one precomputed A response, patching in
// only the query ID. It does no DNS work at all, so its QPS under dnsperf is the most any single-threaded Node
// `dgram` server can reach on this machine, and clusterdns is reported as a ratio to it (run in the same round).
// dnsperf matches responses by ID and does not check the question, so a fixed question is fine.
import dgram from 'node:dgram';

const port = Number(process.argv[2] ?? 15400);
const host = process.argv[3] ?? '127.0.0.1';

/** Encodes a dotted name as DNS labels (no compression). */
function labels(name) {
  const parts = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

// Header: QR|AA|RD, NOERROR, QDCOUNT=1, ANCOUNT=1. Question: svc-0.ns-0.svc.cluster.local A IN.
// Answer: a compression pointer to the question name, A IN TTL 5, 10.96.0.1 (62 bytes in all, like a real answer).
const template = Buffer.concat([
  Buffer.from([0, 0, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]),
  labels('svc-0.ns-0.svc.cluster.local'),
  Buffer.from([0, 1, 0, 1]),
  Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 96, 0, 1]),
]);

const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  if (msg.length < 12) return;
  const res = Buffer.allocUnsafe(template.length);
  template.copy(res);
  res[0] = msg[0];
  res[1] = msg[1];
  sock.send(res, rinfo.port, rinfo.address);
});
sock.on('error', (err) => {
  console.error(`responder: ${err.message}`);
  process.exit(1);
});
sock.bind(port, host, () => console.log(`responder listening on ${host}:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => sock.close(() => process.exit(0)));
