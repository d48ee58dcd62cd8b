// The kubernetes plugin end to end: a real server started from a Corefile serving the demo fixture cluster
// (fixtures/demo), asked over real UDP and TCP sockets with an independent client (dns-packet). Expected answers are
// CoreDNS 1.14's (coredns-behaviour.md §6-§7), written out record by record.
import os from 'node:os';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { ask, rcodeOf } from '../support/client.js';
import { startServer, type Started } from '../support/server.js';
import { DEMO_DIR, namespaceYaml, section, serviceYaml, sliceYaml, soaOf, tempDir, yamlDocs, type EndpointSpec } from '../support/e2e-cluster.js';

const TTL = 30;
const COREFILE = `
.:0 {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        fixture ${DEMO_DIR}
        pods insecure
        ttl ${TTL}
    }
}
`;

let srv: Started;
let startedAt: number;
t.before(async () => {
  startedAt = Math.floor(Date.now() / 1000);
  srv = await startServer(COREFILE, { level: 'silent' });
});
t.teardown(() => srv.stop());

/** The SOA line every negative answer in cluster.local carries (serial masked). */
const SOA_LINE = (zone = 'cluster.local', ttl = TTL, minimum = TTL): string =>
  `${zone} ${ttl} SOA ns.dns.${zone} hostmaster.${zone} <serial> 7200 1800 86400 ${minimum}`;

/** Authority lines with the SOA serial replaced by `<serial>` (the serial is the fixture's load time). */
function authority(p: Parameters<typeof section>[0]): string[] {
  return section(p, 'authorities').map((l) => l.replace(/^(\S+ \d+ SOA \S+ \S+) \d+ /, '$1 <serial> '));
}

interface Case {
  q: string;
  type: string;
  rcode: 'NOERROR' | 'NXDOMAIN';
  answer?: string[];
  additional?: string[];
}

const C = (q: string, type: string, rcode: Case['rcode'], answer: string[] = [], additional: string[] = []): Case => ({ q, type, rcode, answer, additional });
const Z = 'svc.cluster.local';

// Positive answers, one row per record family (the table of fixtures/demo/README.md, checked against §6).
const POSITIVE: Case[] = [
  C(`nginx-basic.default.${Z}`, 'A', 'NOERROR', [`nginx-basic.default.${Z} 30 A 10.100.49.21`]),
  C(`dual.default.${Z}`, 'A', 'NOERROR', [`dual.default.${Z} 30 A 10.100.50.1`]),
  C(`dual.default.${Z}`, 'AAAA', 'NOERROR', [`dual.default.${Z} 30 AAAA fd00:10:96::1a`]),
  // SRV on a named port of a ClusterIP service: target = the service name, A of the cluster IP in additional.
  C(`_http._tcp.nginx-basic.default.${Z}`, 'SRV', 'NOERROR', [`_http._tcp.nginx-basic.default.${Z} 30 SRV 0 100 80 nginx-basic.default.${Z}`], [`nginx-basic.default.${Z} 30 A 10.100.49.21`]),
  // An A query on a port name answers the cluster IP (§6 grammar: any qtype).
  C(`_http._tcp.nginx-basic.default.${Z}`, 'A', 'NOERROR', [`_http._tcp.nginx-basic.default.${Z} 30 A 10.100.49.21`]),
  // Bare SRV includes the unnamed port (legacy-app: one port 8080 without a name).
  C(`legacy-app.default.${Z}`, 'SRV', 'NOERROR', [`legacy-app.default.${Z} 30 SRV 0 100 8080 legacy-app.default.${Z}`], [`legacy-app.default.${Z} 30 A 10.100.60.7`]),
  // Bare SRV with 3 ports on one IP: weight floor(100/3) = 33 counted before dedup; dns/UDP/53 and dns-tcp/TCP/53
  // give the same (target, port) and are deduplicated to one SRV; one additional A (dedup by name, IP).
  C(`kube-dns.kube-system.${Z}`, 'SRV', 'NOERROR', [53, 9153].map((p) => `kube-dns.kube-system.${Z} 30 SRV 0 33 ${p} kube-dns.kube-system.${Z}`), [`kube-dns.kube-system.${Z} 30 A 10.96.0.10`]),
  C(`_dns._udp.kube-dns.kube-system.${Z}`, 'SRV', 'NOERROR', [`_dns._udp.kube-dns.kube-system.${Z} 30 SRV 0 100 53 kube-dns.kube-system.${Z}`], [`kube-dns.kube-system.${Z} 30 A 10.96.0.10`]),
  // Dual-stack ClusterIP, one port: one SRV of weight floor(100/2) = 50, A and AAAA in additional.
  C(`_http._tcp.dual.default.${Z}`, 'SRV', 'NOERROR', [`_http._tcp.dual.default.${Z} 30 SRV 0 50 80 dual.default.${Z}`], [`dual.default.${Z} 30 A 10.100.50.1`, `dual.default.${Z} 30 AAAA fd00:10:96::1a`]),
  // Headless: only ready endpoints (ready:false dropped, ready absent kept).
  C(`nginx-headless.default.${Z}`, 'A', 'NOERROR', [`nginx-headless.default.${Z} 30 A 10.244.1.20`, `nginx-headless.default.${Z} 30 A 10.244.3.22`]),
  // Headless bare SRV: 2 endpoints x 2 ports = 4 candidates → weight 25, targets are dashed-IP endpoint names.
  C(`nginx-headless.default.${Z}`, 'SRV', 'NOERROR',
    ['10-244-1-20', '10-244-3-22'].flatMap((ep) => [80, 443].map((p) => `nginx-headless.default.${Z} 30 SRV 0 25 ${p} ${ep}.nginx-headless.default.${Z}`)),
    [`10-244-1-20.nginx-headless.default.${Z} 30 A 10.244.1.20`, `10-244-3-22.nginx-headless.default.${Z} 30 A 10.244.3.22`]),
  // Two slices sharing an address: each IP once.
  C(`web-split.demo.${Z}`, 'A', 'NOERROR', ['10.244.1.40', '10.244.2.41', '10.244.3.42'].map((ip) => `web-split.demo.${Z} 30 A ${ip}`)),
  C(`v6-only.demo.${Z}`, 'AAAA', 'NOERROR', ['fd00:10:244:1::50', 'fd00:10:244:3::51'].map((ip) => `v6-only.demo.${Z} 30 AAAA ${ip}`)),
  // Endpoint names: hostname, dashed IPv4, dashed IPv6, and on a ClusterIP service.
  C(`kafka-0.kafka-headless.kafka.${Z}`, 'A', 'NOERROR', [`kafka-0.kafka-headless.kafka.${Z} 30 A 10.244.1.90`]),
  C(`10-244-1-20.nginx-headless.default.${Z}`, 'A', 'NOERROR', [`10-244-1-20.nginx-headless.default.${Z} 30 A 10.244.1.20`]),
  C(`fd00-10-244-1--50.v6-only.demo.${Z}`, 'AAAA', 'NOERROR', [`fd00-10-244-1--50.v6-only.demo.${Z} 30 AAAA fd00:10:244:1::50`]),
  C(`10-244-1-10.nginx-basic.default.${Z}`, 'A', 'NOERROR', [`10-244-1-10.nginx-basic.default.${Z} 30 A 10.244.1.10`]),
  // StatefulSet SRV: one per pod hostname, weight 33, A of each in additional.
  C(`_tcp-kafka._tcp.kafka-headless.kafka.${Z}`, 'SRV', 'NOERROR',
    [0, 1, 2].map((i) => `_tcp-kafka._tcp.kafka-headless.kafka.${Z} 30 SRV 0 33 9092 kafka-${i}.kafka-headless.kafka.${Z}`),
    ['10.244.1.90', '10.244.2.91', '10.244.3.92'].map((ip, i) => `kafka-${i}.kafka-headless.kafka.${Z} 30 A ${ip}`)),
  C(`_tcp-kafka._tcp.kafka.kafka.${Z}`, 'SRV', 'NOERROR', [`_tcp-kafka._tcp.kafka.kafka.${Z} 30 SRV 0 100 9092 kafka.kafka.${Z}`], [`kafka.kafka.${Z} 30 A 10.100.80.9`]),
  // PTR: cluster IP → service; endpoint IP → every endpoint name of every service; IPv6 cluster IP and endpoint.
  C('21.49.100.10.in-addr.arpa', 'PTR', 'NOERROR', [`21.49.100.10.in-addr.arpa 30 PTR nginx-basic.default.${Z}`]),
  C('90.1.244.10.in-addr.arpa', 'PTR', 'NOERROR', [`90.1.244.10.in-addr.arpa 30 PTR 10-244-1-90.kafka.kafka.${Z}`, `90.1.244.10.in-addr.arpa 30 PTR kafka-0.kafka-headless.kafka.${Z}`]),
  C(ip6arpa('fd00:10:96::1a'), 'PTR', 'NOERROR', [`${ip6arpa('fd00:10:96::1a')} 30 PTR dual.default.${Z}`]),
  C(ip6arpa('fd00:10:244:1::50'), 'PTR', 'NOERROR', [`${ip6arpa('fd00:10:244:1::50')} 30 PTR fd00-10-244-1--50.v6-only.demo.${Z}`]),
  // ExternalName, asked for the CNAME itself.
  C(`external-service.default.${Z}`, 'CNAME', 'NOERROR', [`external-service.default.${Z} 30 CNAME my.database.example.com`]),
  // Pods (pods insecure): the address in the name, IPv4 and IPv6.
  C('10-244-1-10.default.pod.cluster.local', 'A', 'NOERROR', ['10-244-1-10.default.pod.cluster.local 30 A 10.244.1.10']),
  C('fd00-10-244-1--50.demo.pod.cluster.local', 'AAAA', 'NOERROR', ['fd00-10-244-1--50.demo.pod.cluster.local 30 AAAA fd00:10:244:1::50']),
  // dns-version: TTL 28800 whatever the configured ttl.
  C('dns-version.cluster.local', 'TXT', 'NOERROR', ['dns-version.cluster.local 28800 TXT "1.1.0"']),
];

// Negative answers: NXDOMAIN vs NODATA (§7 matrix and §13 checklist item 3). Both carry the zone SOA.
const NEGATIVE: Case[] = [
  C(`nginx-basic.default.${Z}`, 'AAAA', 'NOERROR'),
  ...['TXT', 'MX', 'CNAME', 'SOA', 'PTR', 'HINFO'].map((ty) => C(`nginx-basic.default.${Z}`, ty, 'NOERROR')),
  C(`nosuch.default.${Z}`, 'A', 'NXDOMAIN'),
  // ANY is an unsupported type like any other: NODATA if the name exists, else NXDOMAIN (§3 ANY queries).
  C(`nginx-basic.default.${Z}`, 'ANY', 'NOERROR'),
  C(`nosuch.default.${Z}`, 'ANY', 'NXDOMAIN'),
  C(`nginx-basic.nosuch.${Z}`, 'A', 'NXDOMAIN'),
  C(`not-ready.demo.${Z}`, 'A', 'NXDOMAIN'),
  C(`v6-only.demo.${Z}`, 'A', 'NOERROR'),
  C(`10-244-2-21.nginx-headless.default.${Z}`, 'A', 'NXDOMAIN'),
  C(`default.${Z}`, 'A', 'NOERROR'),
  C(`nosuch.${Z}`, 'A', 'NXDOMAIN'),
  C(Z, 'A', 'NOERROR'),
  C('pod.cluster.local', 'A', 'NOERROR'),
  C('default.pod.cluster.local', 'A', 'NOERROR'),
  C('cluster.local', 'A', 'NOERROR'),
  C('cluster.local', 'TXT', 'NXDOMAIN'),
  C(Z, 'TXT', 'NXDOMAIN'),
  C(`default.${Z}`, 'TXT', 'NXDOMAIN'),
  C('foo.cluster.local', 'A', 'NXDOMAIN'),
  C('dns-version.cluster.local', 'A', 'NXDOMAIN'),
  C(`nosuch.default.${Z}`, 'SOA', 'NOERROR'),
  C(`_nope._tcp.nginx-basic.default.${Z}`, 'SRV', 'NXDOMAIN'),
  C(`_http._udp.nginx-basic.default.${Z}`, 'SRV', 'NXDOMAIN'),
  C(`_http._tcp.legacy-app.default.${Z}`, 'SRV', 'NXDOMAIN'),
  C(`a.b.c.nginx-basic.default.${Z}`, 'A', 'NXDOMAIN'),
  C(`external-service.default.${Z}`, 'SRV', 'NOERROR'),
  C(`_http._tcp.external-service.default.${Z}`, 'SRV', 'NXDOMAIN'),
  C(`x.external-service.default.${Z}`, 'A', 'NXDOMAIN'),
  C('10-244-1-10.default.pod.cluster.local', 'AAAA', 'NOERROR'),
  C('10-244-1-10.nosuch.pod.cluster.local', 'A', 'NXDOMAIN'),
  C('not-an-ip.default.pod.cluster.local', 'A', 'NXDOMAIN'),
  C(`google.com.default.${Z}`, 'A', 'NXDOMAIN'),
  C(`*.default.${Z}`, 'A', 'NXDOMAIN'),
  // Reverse: an IP that is a not-ready endpoint, an unknown IP, a non-PTR type in a reverse zone.
  C('21.2.244.10.in-addr.arpa', 'PTR', 'NXDOMAIN'),
  C('9.9.244.10.in-addr.arpa', 'PTR', 'NXDOMAIN'),
  C('90.1.244.10.in-addr.arpa', 'A', 'NXDOMAIN'),
];

/** The ip6.arpa name of an IPv6 address. */
function ip6arpa(ip: string): string {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  return `${groups.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.')}.ip6.arpa`;
}

async function check(t: Test, c: Case, tcp: boolean): Promise<void> {
  const what = `${c.q} ${c.type} over ${tcp ? 'TCP' : 'UDP'}`;
  const r = await ask(srv.port, c.q, c.type, { tcp });
  t.equal(rcodeOf(r), c.rcode, `${what}: rcode`);
  t.equal(r.flag_aa, true, `${what}: AA`);
  t.equal(r.flag_tc, false, `${what}: not truncated`);
  t.same(section(r, 'answers'), [...(c.answer ?? [])].sort(), `${what}: answer`);
  if ((c.answer ?? []).length > 0) {
    t.same(section(r, 'additionals'), [...(c.additional ?? [])].sort(), `${what}: additional`);
    t.same(section(r, 'authorities'), [], `${what}: no authority on a positive answer`);
  } else {
    const zone = c.q.endsWith('.arpa') ? (c.q.endsWith('in-addr.arpa') ? 'in-addr.arpa' : 'ip6.arpa') : 'cluster.local';
    t.same(authority(r), [SOA_LINE(zone)], `${what}: SOA in authority`);
  }
}

t.test('positive answers for every record family (UDP)', async (t) => {
  for (const c of POSITIVE) await check(t, c, false);
});

t.test('NXDOMAIN vs NODATA, with the zone SOA in authority (UDP)', async (t) => {
  for (const c of NEGATIVE) await check(t, c, false);
});

t.test('a representative subset gives the same answers over TCP', async (t) => {
  const pick = (list: Case[], q: string, type: string): Case => list.find((c) => c.q === q && c.type === type)!;
  const subset = [
    pick(POSITIVE, `nginx-basic.default.${Z}`, 'A'),
    pick(POSITIVE, `dual.default.${Z}`, 'AAAA'),
    pick(POSITIVE, `_http._tcp.nginx-basic.default.${Z}`, 'SRV'),
    pick(POSITIVE, `nginx-headless.default.${Z}`, 'SRV'),
    pick(POSITIVE, `_tcp-kafka._tcp.kafka-headless.kafka.${Z}`, 'SRV'),
    pick(POSITIVE, '90.1.244.10.in-addr.arpa', 'PTR'),
    pick(POSITIVE, `external-service.default.${Z}`, 'CNAME'),
    pick(POSITIVE, 'dns-version.cluster.local', 'TXT'),
    pick(NEGATIVE, `nginx-basic.default.${Z}`, 'AAAA'),
    pick(NEGATIVE, `nosuch.default.${Z}`, 'A'),
    pick(NEGATIVE, `not-ready.demo.${Z}`, 'A'),
    pick(NEGATIVE, 'cluster.local', 'TXT'),
  ];
  t.equal(subset.filter((c) => c === undefined).length, 0, 'every picked case exists');
  for (const c of subset) await check(t, c, true);
});

t.test('header: AA set, RA clear, RD and ID copied, question echoed', async (t) => {
  for (const rd of [true, false]) {
    const r = await ask(srv.port, `nginx-basic.default.${Z}`, 'A', { rd, id: 4242 });
    t.equal(r.id, 4242);
    t.equal(r.flag_qr, true);
    t.equal(r.flag_aa, true);
    t.equal(r.flag_ra, false, 'RA never set by the kubernetes plugin');
    t.equal(r.flag_rd, rd, `RD copied (${rd})`);
    t.same(r.questions, [{ name: `nginx-basic.default.${Z}`, type: 'A', class: 'IN' }]);
  }
});

t.test('apex SOA, and SOA fields: ns.dns.<zone>, hostmaster.<zone>, 7200 1800 86400 ttl', async (t) => {
  const r = await ask(srv.port, 'cluster.local', 'SOA');
  t.equal(rcodeOf(r), 'NOERROR');
  t.equal(r.answers!.length, 1);
  const soa = soaOf(r, 'answers')!;
  t.equal(soa.name, 'cluster.local');
  t.equal(soa.ttl, TTL, 'SOA TTL = min(ttl, 300)');
  t.match(soa.data, { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', refresh: 7200, retry: 1800, expire: 86400, minimum: TTL });
  // The serial is the time of the last change; for a fixture that is when it was read.
  const now = Math.floor(Date.now() / 1000);
  const serial = soa.data.serial ?? -1;
  t.ok(serial >= startedAt - 5 && serial <= now + 1, `serial ${serial} is the load time (${startedAt}..${now})`);
  const neg = await ask(srv.port, `nosuch.default.${Z}`, 'A');
  t.equal(soaOf(neg)!.data.serial, soa.data.serial, 'the same serial in negative answers');
  const rev = await ask(srv.port, 'in-addr.arpa', 'SOA');
  t.same(section(rev, 'answers').map((l) => l.replace(/ \d+ 7200/, ' <serial> 7200')), [`in-addr.arpa 30 SOA ns.dns.in-addr.arpa hostmaster.in-addr.arpa <serial> 7200 1800 86400 30`], 'reverse zone apex SOA');
});

t.test('apex NS: ns.dns.<zone> with the local addresses as glue (no bind: every interface)', async (t) => {
  const r = await ask(srv.port, 'cluster.local', 'NS');
  t.equal(rcodeOf(r), 'NOERROR');
  // Non-loopback interface addresses, as CoreDNS's boundIPs lists them without `bind`.
  const local = Object.values(os.networkInterfaces()).flat().filter((i) => i && !i.internal).map((i) => i!.address);
  if (local.length === 0) {
    t.same(section(r, 'answers'), [], 'no non-loopback address: NODATA');
    return;
  }
  t.same(section(r, 'answers'), [`cluster.local ${TTL} NS ns.dns.cluster.local`]);
  const glue = (r.additionals ?? []).filter((a) => a.type === 'A' || a.type === 'AAAA');
  t.ok(glue.length > 0, 'glue present');
  for (const g of glue) {
    t.equal(g.name, 'ns.dns.cluster.local', 'glue owner');
    t.ok(local.includes((g as { data: string }).data), `glue ${(g as { data: string }).data} is a local non-loopback address`);
  }
  // ns.dns.<zone> answers the same addresses.
  const a = await ask(srv.port, 'ns.dns.cluster.local', 'A');
  t.same(section(a, 'answers', { ttl: false }), glue.filter((g) => g.type === 'A').map((g) => `ns.dns.cluster.local A ${(g as { data: string }).data}`).sort());
  // Quirk kept from CoreDNS: an apex NS query spelled in mixed case is NODATA.
  const mixed = await ask(srv.port, 'Cluster.Local', 'NS');
  t.equal(rcodeOf(mixed), 'NOERROR');
  t.same(section(mixed, 'answers'), [], 'mixed-case apex NS: NODATA');
});

t.test('case: owner names keep the query spelling, targets take the query spelling of the zone', async (t) => {
  const srvq = await ask(srv.port, 'NGINX-Basic.Default.SVC.Cluster.Local', 'SRV');
  t.equal(rcodeOf(srvq), 'NOERROR');
  t.same(srvq.questions![0]!.name, 'NGINX-Basic.Default.SVC.Cluster.Local', 'question echoed as sent');
  t.same(section(srvq, 'answers'), ['NGINX-Basic.Default.SVC.Cluster.Local 30 SRV 0 100 80 nginx-basic.default.svc.Cluster.Local']);
  t.same(section(srvq, 'additionals'), ['nginx-basic.default.svc.Cluster.Local 30 A 10.100.49.21']);

  const a = await ask(srv.port, 'Kafka-0.KAFKA-headless.kafka.SVC.cluster.LOCAL', 'A', { tcp: true });
  t.same(section(a, 'answers'), ['Kafka-0.KAFKA-headless.kafka.SVC.cluster.LOCAL 30 A 10.244.1.90']);

  const hs = await ask(srv.port, '_TCP-Kafka._Tcp.Kafka-Headless.Kafka.Svc.CLUSTER.local', 'SRV');
  t.same(section(hs, 'answers'), [0, 1, 2].map((i) => `_TCP-Kafka._Tcp.Kafka-Headless.Kafka.Svc.CLUSTER.local 30 SRV 0 33 9092 kafka-${i}.kafka-headless.kafka.svc.CLUSTER.local`));
  t.same(section(hs, 'additionals'), ['10.244.1.90', '10.244.2.91', '10.244.3.92'].map((ip, i) => `kafka-${i}.kafka-headless.kafka.svc.CLUSTER.local 30 A ${ip}`));

  const nx = await ask(srv.port, 'NoSuch.Default.Svc.Cluster.Local', 'A');
  t.equal(rcodeOf(nx), 'NXDOMAIN');
  t.same(authority(nx), [SOA_LINE('Cluster.Local')], 'SOA owner, mname and rname in the query spelling of the zone');

  const apex = await ask(srv.port, 'CLUSTER.local', 'SOA');
  t.same(section(apex, 'answers').map((l) => l.replace(/ \d+ 7200/, ' <serial> 7200')), ['CLUSTER.local 30 SOA ns.dns.CLUSTER.local hostmaster.CLUSTER.local <serial> 7200 1800 86400 30']);

  // PTR targets use the configured primary zone, whatever the query spelling.
  const ptr = await ask(srv.port, '21.49.100.10.IN-ADDR.arpa', 'PTR');
  t.same(section(ptr, 'answers'), [`21.49.100.10.IN-ADDR.arpa 30 PTR nginx-basic.default.${Z}`]);
});

// A second server: bound to 127.0.0.1 only, ttl 600, pods disabled (the default).
let bound: Started;
t.before(async () => {
  bound = await startServer(`.:0 {\n    bind 127.0.0.1\n    kubernetes cluster.local {\n        fixture ${DEMO_DIR}\n        ttl 600\n    }\n}\n`, { level: 'silent' });
});
t.teardown(() => bound.stop());

t.test('SOA TTL is min(ttl, 300) and its minimum the ttl; pods disabled', async (t) => {
  const other = bound;
  const nx = await ask(other.port, `nosuch.default.${Z}`, 'A');
  t.equal(rcodeOf(nx), 'NXDOMAIN');
  t.same(authority(nx), [SOA_LINE('cluster.local', 300, 600)]);
  const a = await ask(other.port, `nginx-basic.default.${Z}`, 'A');
  t.same(section(a, 'answers'), [`nginx-basic.default.${Z} 600 A 10.100.49.21`]);
  // pods disabled (the default): pod names and <ns>.pod are NXDOMAIN.
  t.equal(rcodeOf(await ask(other.port, '10-244-1-10.default.pod.cluster.local', 'A')), 'NXDOMAIN');
  t.equal(rcodeOf(await ask(other.port, 'default.pod.cluster.local', 'A')), 'NXDOMAIN');
});

// CoreDNS setup.go boundIPs: the NS addresses are the non-loopback addresses the server is bound to (every interface
// only without `bind`); bound to loopback only there are none, and ns.go nsAddrs returns nothing → NODATA (§6 Apex NS).
t.test('apex NS when bound to loopback only (bind 127.0.0.1): NODATA with SOA, and ns.dns.<zone> has no address', async (t) => {
  const ns = await ask(bound.port, 'cluster.local', 'NS');
  t.equal(rcodeOf(ns), 'NOERROR');
  t.same(section(ns, 'answers'), [], 'no non-loopback address bound: NODATA');
  t.same(section(ns, 'additionals'), [], 'no glue');
  t.same(authority(ns), [SOA_LINE('cluster.local', 300, 600)]);
  const a = await ask(bound.port, 'ns.dns.cluster.local', 'A');
  t.same(section(a, 'answers'), [], 'ns.dns.cluster.local A: no interface address leaks out');
});

t.test('zone transfers are REFUSED without the transfer plugin, with no SOA', async (t) => {
  for (const type of ['AXFR', 'IXFR']) {
    const r = await ask(srv.port, 'cluster.local', type, { tcp: true });
    t.equal(rcodeOf(r), 'REFUSED', `${type}: REFUSED`);
    t.same(section(r, 'answers'), [], `${type}: no answer`);
    t.same(section(r, 'authorities'), [], `${type}: no SOA`);
  }
});

t.test('truncation: a big headless answer over UDP without EDNS, over TCP, and with EDNS 4096', async (t) => {
  const { dir, cleanup } = tempDir('trunc');
  t.teardown(cleanup);
  const eps: EndpointSpec[] = Array.from({ length: 60 }, (_, i) => ({ ip: `10.1.${Math.floor(i / 200)}.${(i % 200) + 1}` }));
  writeFileSync(path.join(dir, 'big.yaml'), yamlDocs(namespaceYaml('big'), serviceYaml('big', 'many', 'None', [['http', 'TCP', 80]]), sliceYaml('big', 'many-abcde', 'many', eps, [['http', 'TCP', 80]])));
  const big = await startServer(`.:0 {\n    kubernetes cluster.local {\n        fixture ${dir}\n    }\n}\n`, { level: 'silent' });
  t.teardown(() => big.stop());
  const name = 'many.big.svc.cluster.local';
  const all = eps.map((e) => `${name} 5 A ${e.ip}`).sort();

  const udp = await ask(big.port, name, 'A');
  t.equal(rcodeOf(udp), 'NOERROR');
  t.equal(udp.flag_tc, true, 'TC=1 without EDNS');
  t.ok(udp.raw.length <= 512, `UDP reply is ${udp.raw.length} <= 512 bytes`);
  t.ok(udp.answers!.length > 0 && udp.answers!.length < 60, `partial answer (${udp.answers!.length} records)`);
  t.same(section(udp, 'answers').filter((l) => !all.includes(l)), [], 'the partial answer holds only whole, correct records');

  const tcp = await ask(big.port, name, 'A', { tcp: true });
  t.equal(tcp.flag_tc, false, 'TCP: not truncated');
  t.same(section(tcp, 'answers'), all, 'TCP: all 60 records');

  const edns = await ask(big.port, name, 'A', { edns: 4096 });
  t.equal(edns.flag_tc, false, 'EDNS 4096: not truncated');
  t.same(section(edns, 'answers'), all, 'EDNS 4096: all 60 records');
  t.ok(edns.raw.length > 512 && edns.raw.length <= 4096, `EDNS 4096 reply is ${edns.raw.length} bytes`);

  const small = await ask(big.port, name, 'A', { edns: 512 });
  t.equal(small.flag_tc, true, 'EDNS 512: truncated');
  t.ok(small.raw.length <= 512, `EDNS 512 reply is ${small.raw.length} bytes`);
  t.ok(small.additionals!.some((a) => a.type === 'OPT'), 'OPT kept in a truncated reply');
});
