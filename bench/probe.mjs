#!/usr/bin/env node
// Use:
//   node bench/probe.mjs wait PORT NAME TYPE EXPECT_IP TIMEOUT_MS
//       Polls 127.0.0.1:PORT until an answer to NAME/TYPE holds EXPECT_IP; prints the epoch ms of that answer.
//   node bench/probe.mjs prog-fixture DIR
//       Writes the small programming-latency fixture into DIR: a Namespace, a headless Service and its
//       EndpointSlice (in its own file, slice.json, holding one endpoint).
//   node bench/probe.mjs prog PORT DIR ITERATIONS
//       Programming latency: ITERATIONS times, rewrites DIR/slice.json with a new endpoint address (written to a
//       hidden temporary file and renamed over, as an atomic edit) and polls the headless Service's A record
//       back-to-back until the new address is served. Prints one JSON line with the latencies (ms) and percentiles.
//       Each edit is given up after $PROBE_EDIT_TIMEOUT_MS (default 5000) ms.
//
// A tiny UDP DNS client (hand-rolled: plain Node, no build, no dependencies); 127.0.0.1 only, every loop bounded.
import dgram from 'node:dgram';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33 };

/** Encodes a one-question query. */
function encodeQuery(id, name, type) {
  const parts = name.replace(/\.$/, '').split('.');
  const q = Buffer.alloc(12 + parts.reduce((n, l) => n + l.length + 1, 0) + 1 + 4);
  q.writeUInt16BE(id, 0);
  q[2] = 0x01; // RD
  q.writeUInt16BE(1, 4);
  let off = 12;
  for (const l of parts) {
    q[off++] = l.length;
    off += q.write(l, off, 'ascii');
  }
  q[off++] = 0;
  q.writeUInt16BE(TYPES[type] ?? Number(type), off);
  q.writeUInt16BE(1, off + 2);
  return q;
}

/** Skips a possibly compressed name at `off`; returns the offset after it. */
function skipName(buf, off) {
  while (off < buf.length) {
    const len = buf[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  return off;
}

/** The rcode and the A/AAAA addresses in the answer section of a response. */
function decodeAnswers(buf) {
  const rcode = buf[3] & 0x0f;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = skipName(buf, off) + 4;
  const addrs = [];
  for (let i = 0; i < an && off + 10 <= buf.length; i++) {
    off = skipName(buf, off);
    const type = buf.readUInt16BE(off);
    const rdlen = buf.readUInt16BE(off + 8);
    const rd = buf.subarray(off + 10, off + 10 + rdlen);
    if (type === 1 && rdlen === 4) addrs.push(Array.from(rd).join('.'));
    off += 10 + rdlen;
  }
  return { rcode, addrs };
}

/** A UDP client with one query in flight at a time (bench/api-sync.ts uses it too). */
export function client(port) {
  const sock = dgram.createSocket('udp4');
  let id = 1;
  let pending = null;
  sock.on('message', (msg) => {
    if (!pending || msg.length < 12 || msg.readUInt16BE(0) !== pending.id) return;
    const p = pending;
    pending = null;
    clearTimeout(p.timer);
    // `at`: when the reply was read (performance.now()), before any promise bookkeeping.
    p.resolve({ ...decodeAnswers(msg), at: performance.now() });
  });
  return {
    /** Resolves to the decoded answer, or null after `timeoutMs` without one. */
    query(name, type, timeoutMs = 200) {
      id = (id + 1) & 0xffff;
      const q = encodeQuery(id, name, type);
      return new Promise((resolve) => {
        pending = {
          id,
          resolve,
          timer: setTimeout(() => {
            pending = null;
            resolve(null);
          }, timeoutMs),
        };
        sock.send(q, port, '127.0.0.1');
      });
    },
    close: () => sock.close(),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wait([port, name, type, expect, timeoutMs]) {
  const c = client(Number(port));
  const deadline = Date.now() + Number(timeoutMs ?? 60000);
  while (Date.now() < deadline) {
    const r = await c.query(name, type, 100);
    if (r && r.rcode === 0 && r.addrs.includes(expect)) {
      console.log(Date.now());
      c.close();
      return 0;
    }
    await sleep(10);
  }
  c.close();
  console.error(`no answer ${expect} for ${name} ${type} within ${timeoutMs} ms`);
  return 1;
}

const PROG_NS = 'bench';
const PROG_SVC = 'prog';
const progName = `${PROG_SVC}.${PROG_NS}.svc.cluster.local`;
// Distinct for every edit (254 hosts per /24, no .0 or .255): a repeated address would count as seen at once.
const progIP = (i) => `10.250.${Math.floor((i - 1) / 254)}.${((i - 1) % 254) + 1}`;

function sliceJSON(i) {
  return JSON.stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: { name: `${PROG_SVC}-abcde`, namespace: PROG_NS, resourceVersion: String(1000 + i), labels: { 'kubernetes.io/service-name': PROG_SVC } },
    endpoints: [{ addresses: [progIP(i)], conditions: { ready: true }, hostname: `${PROG_SVC}-0`, targetRef: { kind: 'Pod', name: `${PROG_SVC}-0`, namespace: PROG_NS } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}

function writeSlice(dir, i) {
  // Hidden names are not read by the fixture source, so the temporary file never shows up half-written.
  const tmp = join(dir, '.slice.json.tmp');
  writeFileSync(tmp, sliceJSON(i));
  renameSync(tmp, join(dir, 'slice.json'));
}

function progFixture([dir]) {
  mkdirSync(dir, { recursive: true });
  const objs = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROG_NS, resourceVersion: '1' } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: PROG_SVC, namespace: PROG_NS, resourceVersion: '2' },
        spec: { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
      },
    ],
  };
  writeFileSync(join(dir, 'service.json'), JSON.stringify(objs));
  writeSlice(dir, 1);
  console.log(JSON.stringify({ dir, name: progName, answer: progIP(1) }));
  return 0;
}

/** Nearest-rank percentile of ascending `sorted` (with under 100 samples, p99 is the maximum). */
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

async function prog([port, dir, iterations]) {
  const n = Number(iterations ?? 50);
  const editTimeoutMs = Number(process.env.PROBE_EDIT_TIMEOUT_MS ?? 5000);
  const c = client(Number(port));
  const lat = [];
  let failed = 0;
  for (let i = 2; i < n + 2; i++) {
    const want = progIP(i);
    const t0 = performance.now();
    writeSlice(dir, i);
    let seen = false;
    // Bounded: give up on this edit after editTimeoutMs.
    while (performance.now() - t0 < editTimeoutMs) {
      const r = await c.query(progName, 'A', 200);
      if (r && r.addrs.includes(want)) {
        seen = true;
        break;
      }
    }
    if (seen) lat.push(performance.now() - t0);
    else failed++;
    // Let the watcher go quiet before the next edit, so edits are not coalesced by its debounce.
    await sleep(100);
  }
  c.close();
  const s = lat.slice().sort((a, b) => a - b);
  const r2 = (x) => (x === undefined ? null : Math.round(x * 100) / 100);
  console.log(
    JSON.stringify({
      iterations: n,
      seen: s.length,
      failed,
      min: r2(s[0]),
      p50: r2(pct(s, 50)),
      p90: r2(pct(s, 90)),
      p99: r2(pct(s, 99)),
      max: r2(s.at(-1)),
      mean: r2(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
    }),
  );
  return failed === 0 ? 0 : 1;
}

// Run as a command, not when imported for its client.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, ...args] = process.argv.slice(2);
  const modes = { wait, 'prog-fixture': progFixture, prog };
  if (!modes[mode]) {
    console.error('Use: node bench/probe.mjs wait|prog-fixture|prog ... (see the head of this file)');
    process.exit(2);
  }
  process.exitCode = await modes[mode](args);
}
