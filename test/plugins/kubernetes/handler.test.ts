/**
 * The kubernetes handler against the standard test cluster: every row of the behaviour reference §7 and the §13
 * checklist, written as CoreDNS's handler tests are (a table of query → rcode + zone-file lines).
 */
import t, { type Test } from 'tap';
import { FLAG, RCODE, TYPE } from '../../../lib/dns/constants.js';
import type { Message } from '../../../lib/dns/message.js';
import { parseRRText } from '../../../lib/dns/text.js';
import { ask, k8s, lines, soa, type K8sRig, type K8sSetup } from '../../support/k8s-harness.js';
import { ep, ns, slice, standardCluster, svc } from '../../support/k8s-objects.js';
import { dir, makeQuery } from '../../support/query.js';

interface Case {
  q: string;
  type: string | number;
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  answer?: string[];
  extra?: string[];
  /** Zone spelling of the SOA in a negative answer (default cluster.local.). */
  zone?: string;
  ttl?: number;
  tc?: boolean;
}

async function run(t: Test, rig: K8sRig, cases: Case[]): Promise<void> {
  for (const c of cases) {
    const r = await ask(rig.handler, c.q, c.type);
    const label = `${c.q} ${String(c.type)}`;
    t.ok(r.written, `${label}: written`);
    t.equal(r.writtenBy, 'kubernetes', `${label}: written by kubernetes`);
    t.equal(r.rcode, c.rcode, `${label}: rcode`);
    t.ok(r.aa, `${label}: AA`);
    t.equal(r.tc, c.tc ?? false, `${label}: TC`);
    const answer = lines(c.answer ?? []);
    t.strictSame(r.answer, answer, `${label}: answer`);
    t.strictSame(r.additional, lines(c.extra ?? []), `${label}: additional`);
    const negative = answer.length === 0;
    t.strictSame(r.authority, negative ? lines([soa(c.zone ?? 'cluster.local.', c.ttl ?? 5)]) : [], `${label}: authority`);
  }
}

// Upstream answers for ExternalName targets outside the zone.
function upstream(name: string, type: number): Message {
  const m = makeQuery(name, type).q.newReply(RCODE.NOERROR);
  if (name === 'ext.interwebs.test.' && type === TYPE.A) m.answer.push(parseRRText('ext.interwebs.test. 300 IN A 1.2.3.4'));
  if (name === 'big.interwebs.test.') m.flags |= FLAG.TC;
  return m;
}

const REVERSE_ARGS = ['cluster.local', 'in-addr.arpa', 'ip6.arpa'];

function rig(setup: K8sSetup = {}): K8sRig {
  return k8s({ args: REVERSE_ARGS, resolver: upstream, ...setup });
}

const NODATA = { rcode: 'NOERROR' } as const;
const NX = { rcode: 'NXDOMAIN' } as const;
const S = 'svc.cluster.local.';

t.test('ClusterIP services (§6 ClusterIP A/AAAA, §7 rows 1-3)', async (t) => {
  await run(t, rig(), [
    { q: `svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc1.testns.${S} 5 IN A 10.0.0.1`] },
    ...['AAAA', 'TXT', 'MX', 'CNAME', 'SOA', 'PTR', 'ANY', 'HINFO', 'NS', TYPE.CAA, TYPE.HTTPS].map(
      (type): Case => ({ q: `svc1.testns.${S}`, type, ...NODATA }),
    ),
    { q: `svc0.testns.${S}`, type: 'A', ...NX },
    { q: `svc0.testns.${S}`, type: 'AAAA', ...NX },
    { q: `svc0.testns.${S}`, type: 'TXT', ...NX },
    { q: `svc0.testns.${S}`, type: 'HINFO', ...NX },
    { q: `svc1.nsnoexist.${S}`, type: 'A', ...NX },
    { q: `svc6.testns.${S}`, type: 'AAAA', rcode: 'NOERROR', answer: [`svc6.testns.${S} 5 IN AAAA 1234:abcd::1`] },
    { q: `svc6.testns.${S}`, type: 'A', ...NODATA },
    { q: `dual.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`dual.testns.${S} 5 IN A 10.0.0.3`] },
    { q: `dual.testns.${S}`, type: 'AAAA', rcode: 'NOERROR', answer: [`dual.testns.${S} 5 IN AAAA fd00::3`] },
    { q: `nodeport.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`nodeport.testns.${S} 5 IN A 10.0.0.6`] },
    { q: `noports.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`noports.testns.${S} 5 IN A 10.0.0.5`] },
    { q: `svcempty.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svcempty.testns.${S} 5 IN A 10.0.0.2`] },
    // `_port._proto` works for any qtype (an A query returns the cluster IP).
    { q: `_http._tcp.svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`_http._tcp.svc1.testns.${S} 5 IN A 10.0.0.1`] },
    { q: `_http._tcp.svc1.testns.${S}`, type: 'TXT', ...NODATA },
    { q: `_https._tcp.svc1.testns.${S}`, type: 'A', ...NX },
    // Too long: three labels left of the service.
    { q: `a.b.c.svc1.testns.${S}`, type: 'A', ...NX },
    // Search-path garbage.
    { q: `google.com.testns.${S}`, type: 'A', ...NX },
    // Wildcards were removed in CoreDNS 1.9.0.
    { q: `*.testns.${S}`, type: 'A', ...NX },
    { q: `svc1.*.${S}`, type: 'A', ...NX },
  ]);
});

t.test('SRV (§13 items 1-2)', async (t) => {
  const svc1 = `svc1.testns.${S}`;
  await run(t, rig(), [
    { q: svc1, type: 'SRV', rcode: 'NOERROR', answer: [`${svc1} 5 IN SRV 0 100 80 ${svc1}`], extra: [`${svc1} 5 IN A 10.0.0.1`] },
    {
      q: `_http._tcp.${svc1}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [`_http._tcp.${svc1} 5 IN SRV 0 100 80 ${svc1}`],
      extra: [`${svc1} 5 IN A 10.0.0.1`],
    },
    // The leading underscores are optional, and matching is case-insensitive.
    { q: `http.tcp.${svc1}`, type: 'SRV', rcode: 'NOERROR', answer: [`http.tcp.${svc1} 5 IN SRV 0 100 80 ${svc1}`], extra: [`${svc1} 5 IN A 10.0.0.1`] },
    { q: `_HTTP._TCP.${svc1}`, type: 'SRV', rcode: 'NOERROR', answer: [`_HTTP._TCP.${svc1} 5 IN SRV 0 100 80 ${svc1}`], extra: [`${svc1} 5 IN A 10.0.0.1`] },
    // Name and protocol must both match.
    { q: `_http._udp.${svc1}`, type: 'SRV', ...NX },
    { q: `_https._tcp.${svc1}`, type: 'SRV', ...NX },
    { q: `*._not-udp-or-tcp.${svc1}`, type: 'SRV', ...NX },
    // Dual-stack ClusterIP, one port: 2 candidates → one SRV with weight 50, A and AAAA additional.
    {
      q: `dual.testns.${S}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [`dual.testns.${S} 5 IN SRV 0 50 80 dual.testns.${S}`],
      extra: [`dual.testns.${S} 5 IN A 10.0.0.3`, `dual.testns.${S} 5 IN AAAA fd00::3`],
    },
    { q: `svc6.testns.${S}`, type: 'SRV', rcode: 'NOERROR', answer: [`svc6.testns.${S} 5 IN SRV 0 100 80 svc6.testns.${S}`], extra: [`svc6.testns.${S} 5 IN AAAA 1234:abcd::1`] },
    // Bare SRV: every port, the unnamed one included; 4 candidates → 25; port 53 twice (UDP/TCP) → one record.
    {
      q: `multiport.testns.${S}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [
        `multiport.testns.${S} 5 IN SRV 0 25 80 multiport.testns.${S}`,
        `multiport.testns.${S} 5 IN SRV 0 25 53 multiport.testns.${S}`,
        `multiport.testns.${S} 5 IN SRV 0 25 8080 multiport.testns.${S}`,
      ],
      extra: [`multiport.testns.${S} 5 IN A 10.0.0.4`],
    },
    { q: `_dns._udp.multiport.testns.${S}`, type: 'SRV', rcode: 'NOERROR', answer: [`_dns._udp.multiport.testns.${S} 5 IN SRV 0 100 53 multiport.testns.${S}`], extra: [`multiport.testns.${S} 5 IN A 10.0.0.4`] },
    { q: `_dns-tcp._tcp.multiport.testns.${S}`, type: 'SRV', rcode: 'NOERROR', answer: [`_dns-tcp._tcp.multiport.testns.${S} 5 IN SRV 0 100 53 multiport.testns.${S}`], extra: [`multiport.testns.${S} 5 IN A 10.0.0.4`] },
    { q: `_dns._tcp.multiport.testns.${S}`, type: 'SRV', ...NX },
    // A bare `_` port label matches any port (CoreDNS strips the underscore and treats '' as wild).
    {
      q: `_._tcp.multiport.testns.${S}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [
        `_._tcp.multiport.testns.${S} 5 IN SRV 0 33 80 multiport.testns.${S}`,
        `_._tcp.multiport.testns.${S} 5 IN SRV 0 33 53 multiport.testns.${S}`,
        `_._tcp.multiport.testns.${S} 5 IN SRV 0 33 8080 multiport.testns.${S}`,
      ],
      extra: [`multiport.testns.${S} 5 IN A 10.0.0.4`],
    },
    // No ports at all: the bare name exists (NODATA), a port name does not.
    { q: `noports.testns.${S}`, type: 'SRV', ...NODATA },
    { q: `_http._tcp.noports.testns.${S}`, type: 'SRV', ...NX },
    { q: `svc0.testns.${S}`, type: 'SRV', ...NX },
  ]);
});

t.test('headless services, endpoints, readiness, dedup (§6, §13 items 3 and 6)', async (t) => {
  const h = `hdls1.testns.${S}`;
  await run(t, rig(), [
    {
      q: h,
      type: 'A',
      rcode: 'NOERROR',
      answer: ['172.0.0.2', '172.0.0.3', '172.0.0.4', '172.0.0.5'].map((ip) => `${h} 5 IN A ${ip}`),
    },
    { q: h, type: 'AAAA', rcode: 'NOERROR', answer: [`${h} 5 IN AAAA 5678:abcd::1`, `${h} 5 IN AAAA 5678:abcd::2`] },
    // 6 addresses × 1 port → weight 16; the two dup-name endpoints share one SRV but both get glue.
    ...[h, `_http._tcp.${h}`].map(
      (q): Case => ({
        q,
        type: 'SRV',
        rcode: 'NOERROR',
        answer: ['172-0-0-2', '172-0-0-3', '5678-abcd--1', '5678-abcd--2', 'dup-name'].map((n) => `${q} 5 IN SRV 0 16 80 ${n}.${h}`),
        extra: [
          `172-0-0-2.${h} 5 IN A 172.0.0.2`,
          `172-0-0-3.${h} 5 IN A 172.0.0.3`,
          `5678-abcd--1.${h} 5 IN AAAA 5678:abcd::1`,
          `5678-abcd--2.${h} 5 IN AAAA 5678:abcd::2`,
          `dup-name.${h} 5 IN A 172.0.0.4`,
          `dup-name.${h} 5 IN A 172.0.0.5`,
        ],
      }),
    ),
    { q: `172-0-0-2.${h}`, type: 'A', rcode: 'NOERROR', answer: [`172-0-0-2.${h} 5 IN A 172.0.0.2`] },
    { q: `dup-name.${h}`, type: 'A', rcode: 'NOERROR', answer: [`dup-name.${h} 5 IN A 172.0.0.4`, `dup-name.${h} 5 IN A 172.0.0.5`] },
    {
      q: `dup-name.${h}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [`dup-name.${h} 5 IN SRV 0 50 80 dup-name.${h}`],
      extra: [`dup-name.${h} 5 IN A 172.0.0.4`, `dup-name.${h} 5 IN A 172.0.0.5`],
    },
    { q: `5678-abcd--1.${h}`, type: 'AAAA', rcode: 'NOERROR', answer: [`5678-abcd--1.${h} 5 IN AAAA 5678:abcd::1`] },
    { q: `5678-abcd--1.${h}`, type: 'A', ...NODATA },
    { q: `5678-abcd--1.${h}`, type: 'TXT', ...NODATA },
    { q: `bogusendpoint.${h}`, type: 'A', ...NX },
    { q: `bogusendpoint.svc0.testns.${S}`, type: 'A', ...NX },
    // Endpoint names also work below a ClusterIP service.
    { q: `ep1a.svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`ep1a.svc1.testns.${S} 5 IN A 172.0.0.1`] },
    {
      q: `ep1a.svc1.testns.${S}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [`ep1a.svc1.testns.${S} 5 IN SRV 0 100 80 ep1a.svc1.testns.${S}`],
      extra: [`ep1a.svc1.testns.${S} 5 IN A 172.0.0.1`],
    },
    { q: `nope.svc1.testns.${S}`, type: 'A', ...NX },
    // Headless without ports: addresses but no SRV.
    { q: `hdlsprtls.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`hdlsprtls.testns.${S} 5 IN A 172.0.0.20`] },
    { q: `hdlsprtls.testns.${S}`, type: 'SRV', ...NODATA },
    { q: `172-0-0-20.hdlsprtls.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`172-0-0-20.hdlsprtls.testns.${S} 5 IN A 172.0.0.20`] },
    { q: `_http._tcp.hdlsprtls.testns.${S}`, type: 'SRV', ...NX },
    // Headless without ready endpoints: NXDOMAIN for everything (spec 2.4.1).
    ...['A', 'AAAA', 'SRV', 'TXT', 'ANY'].map((type): Case => ({ q: `hdlsnotready.testns.${S}`, type, ...NX })),
    { q: `172-0-0-30.hdlsnotready.testns.${S}`, type: 'A', ...NX },
    // Ready endpoints only of the other family: NODATA.
    { q: `hdls6only.testns.${S}`, type: 'A', ...NODATA },
    { q: `hdls6only.testns.${S}`, type: 'AAAA', rcode: 'NOERROR', answer: [`hdls6only.testns.${S} 5 IN AAAA fd00::10`] },
    // Two slices: addresses dedup, not-ready excluded; weight counts every row before dedup (4 → 25).
    {
      q: `hdlsdedup.testns.${S}`,
      type: 'A',
      rcode: 'NOERROR',
      answer: ['172.0.0.40', '172.0.0.41', '172.0.0.42'].map((ip) => `hdlsdedup.testns.${S} 5 IN A ${ip}`),
    },
    {
      q: `hdlsdedup.testns.${S}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: ['40', '41', '42'].map((n) => `hdlsdedup.testns.${S} 5 IN SRV 0 25 80 172-0-0-${n}.hdlsdedup.testns.${S}`),
      extra: ['40', '41', '42'].map((n) => `172-0-0-${n}.hdlsdedup.testns.${S} 5 IN A 172.0.0.${n}`),
    },
    { q: `172-0-0-43.hdlsdedup.testns.${S}`, type: 'A', ...NX },
    // Dashed names: IPv6 with a trailing `-` completed by 0; no pod names without endpoint_pod_names.
    { q: `2001-db8--0.podnames.testns.${S}`, type: 'AAAA', rcode: 'NOERROR', answer: [`2001-db8--0.podnames.testns.${S} 5 IN AAAA 2001:db8::`] },
    { q: `172-0-0-50.podnames.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`172-0-0-50.podnames.testns.${S} 5 IN A 172.0.0.50`] },
    { q: `web-0.podnames.testns.${S}`, type: 'A', ...NX },
    { q: `h1.podnames.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`h1.podnames.testns.${S} 5 IN A 172.0.0.51`] },
  ]);
});

t.test('ExternalName (§6 ExternalName, §13 item 8)', async (t) => {
  const r = rig();
  const ext = `external.testns.${S}`;
  await run(t, r, [
    { q: ext, type: 'CNAME', rcode: 'NOERROR', answer: [`${ext} 5 IN CNAME ext.interwebs.test.`] },
    { q: ext, type: 'A', rcode: 'NOERROR', answer: [`${ext} 5 IN CNAME ext.interwebs.test.`, 'ext.interwebs.test. 300 IN A 1.2.3.4'] },
    // The target has no AAAA: just the CNAME, NOERROR.
    { q: ext, type: 'AAAA', rcode: 'NOERROR', answer: [`${ext} 5 IN CNAME ext.interwebs.test.`] },
    ...['TXT', 'MX', 'SRV', 'ANY', 'HINFO', 'PTR'].map((type): Case => ({ q: ext, type, ...NODATA })),
    { q: `_http._tcp.${ext}`, type: 'SRV', ...NX },
    { q: `_http._tcp.${ext}`, type: 'A', ...NX },
    { q: `x.${ext}`, type: 'A', ...NX },
    { q: `x.${ext}`, type: 'CNAME', ...NX },
    // Inside the zone: chased internally, CNAME + the service's records.
    {
      q: `external-to-service.testns.${S}`,
      type: 'A',
      rcode: 'NOERROR',
      answer: [`external-to-service.testns.${S} 5 IN CNAME svc1.testns.${S}`, `svc1.testns.${S} 5 IN A 10.0.0.1`],
    },
    { q: `external-to-service.testns.${S}`, type: 'AAAA', ...NODATA },
    { q: `external-to-service.testns.${S}`, type: 'CNAME', rcode: 'NOERROR', answer: [`external-to-service.testns.${S} 5 IN CNAME svc1.testns.${S}`] },
    // Internal target missing: NODATA.
    { q: `external-missing.testns.${S}`, type: 'A', ...NODATA },
    // An IP-like externalName: the service is ignored.
    { q: `external-ip.testns.${S}`, type: 'A', ...NX },
    { q: `external-ip.testns.${S}`, type: 'CNAME', ...NX },
    // Loops and self-references end in NODATA.
    { q: `ext-loop1.testns.${S}`, type: 'A', ...NODATA },
    { q: `ext-self.testns.${S}`, type: 'A', ...NODATA },
    // A chain through another ExternalName service to an outside target.
    {
      q: `ext-chain.testns.${S}`,
      type: 'A',
      rcode: 'NOERROR',
      answer: [`ext-chain.testns.${S} 5 IN CNAME ${ext}`, `${ext} 5 IN CNAME ext.interwebs.test.`, 'ext.interwebs.test. 300 IN A 1.2.3.4'],
    },
  ]);
  t.strictSame(
    r.resolved.map((x) => `${x.name} ${x.type}`).sort(),
    ['ext.interwebs.test. 1', 'ext.interwebs.test. 1', 'ext.interwebs.test. 28'],
    'only outside targets of A/AAAA queries go through the server',
  );
});

t.test('ExternalName: TC propagates, resolution depth is capped', async (t) => {
  const cluster = standardCluster();
  cluster.services.push(svc('testns', 'big', { externalName: 'big.interwebs.test' }));
  const r = rig({ cluster });
  const big = await ask(r.handler, `big.testns.${S}`, 'A');
  t.equal(big.rcode, 'NOERROR');
  t.ok(big.tc, 'TC from the target reply is set on ours');
  t.strictSame(big.answer, lines([`big.testns.${S} 5 IN CNAME big.interwebs.test.`]));

  const before = r.resolved.length;
  const deep = await ask(r.handler, `external.testns.${S}`, 'A', { depth: 10 });
  t.equal(r.resolved.length, before, 'no resolution at depth 10');
  t.strictSame(deep.answer, lines([`external.testns.${S} 5 IN CNAME ext.interwebs.test.`]));
});

t.test('partial names, apex, dns-version, TXT quirks (§6, §7)', async (t) => {
  await run(t, rig(), [
    { q: `testns.${S}`, type: 'A', ...NODATA },
    { q: `testns.${S}`, type: 'SRV', ...NODATA },
    { q: `testns.${S}`, type: 'TXT', ...NX },
    { q: `nsnoexist.${S}`, type: 'A', ...NX },
    { q: S, type: 'A', ...NODATA },
    { q: S, type: 'TXT', ...NX },
    { q: 'pod.cluster.local.', type: 'A', ...NODATA },
    { q: 'pod.cluster.local.', type: 'TXT', ...NX },
    ...['A', 'AAAA', 'SRV', 'MX', 'CNAME', 'PTR', 'HINFO', 'ANY'].map((type): Case => ({ q: 'cluster.local.', type, ...NODATA })),
    { q: 'cluster.local.', type: 'TXT', ...NX },
    { q: 'foo.cluster.local.', type: 'A', ...NX },
    { q: 'foo.cluster.local.', type: 'NS', ...NX },
    { q: 'dns-version.cluster.local.', type: 'TXT', rcode: 'NOERROR', answer: ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'] },
    { q: 'DNS-Version.Cluster.Local.', type: 'TXT', rcode: 'NOERROR', answer: ['DNS-Version.Cluster.Local. 28800 IN TXT "1.1.0"'] },
    { q: 'dns-version.cluster.local.', type: 'A', ...NX },
    // SOA only at the apex; any other name (existing or not) is NODATA.
    { q: 'cluster.local.', type: 'SOA', rcode: 'NOERROR', answer: [soa()] },
    { q: 'Cluster.LOCAL.', type: 'SOA', rcode: 'NOERROR', answer: [soa('Cluster.LOCAL.')] },
    { q: `nosuch.nsnoexist.${S}`, type: 'SOA', ...NODATA },
    { q: 'foo.cluster.local.', type: 'SOA', ...NODATA },
    // Pods are disabled by default: NXDOMAIN even for the namespace.
    { q: '10-240-0-1.podns.pod.cluster.local.', type: 'A', ...NX },
    { q: 'podns.pod.cluster.local.', type: 'A', ...NX },
  ]);
});

t.test('NS records and ns.dns (§6 apex NS)', async (t) => {
  const kd = 'kube-dns.kube-system.svc.cluster.local.';
  await run(t, rig(), [
    { q: 'cluster.local.', type: 'NS', rcode: 'NOERROR', answer: [`cluster.local. 5 IN NS ${kd}`], extra: [`${kd} 5 IN A 10.96.0.10`] },
    // Mixed-case apex NS: CoreDNS compares the lower-cased name with the spelled zone → NODATA.
    { q: 'Cluster.local.', type: 'NS', ...NODATA, zone: 'Cluster.local.' },
    { q: 'ns.dns.cluster.local.', type: 'A', rcode: 'NOERROR', answer: ['ns.dns.cluster.local. 5 IN A 10.96.0.10'] },
    { q: 'NS.DNS.cluster.local.', type: 'A', rcode: 'NOERROR', answer: ['NS.DNS.cluster.local. 5 IN A 10.96.0.10'] },
    // With the zone spelled in mixed case the ns.dns shortcut does not apply: `dns` is not svc/pod.
    { q: 'ns.dns.Cluster.Local.', type: 'A', ...NX, zone: 'Cluster.Local.' },
    { q: 'ns.dns.cluster.local.', type: 'AAAA', ...NODATA },
    { q: 'ns.dns.cluster.local.', type: 'SRV', ...NODATA },
    { q: 'ns.dns.cluster.local.', type: 'TXT', ...NX },
    { q: 'ns.dns.cluster.local.', type: 'PTR', ...NX },
  ]);

  // Not an endpoint of any service: ns.dns.<zone> with the local addresses as glue.
  await run(t, rig({ localIPs: ['192.0.2.1', '2001:db8::53'] }), [
    {
      q: 'cluster.local.',
      type: 'NS',
      rcode: 'NOERROR',
      answer: ['cluster.local. 5 IN NS ns.dns.cluster.local.'],
      extra: ['ns.dns.cluster.local. 5 IN A 192.0.2.1', 'ns.dns.cluster.local. 5 IN AAAA 2001:db8::53'],
    },
    { q: 'ns.dns.cluster.local.', type: 'AAAA', rcode: 'NOERROR', answer: ['ns.dns.cluster.local. 5 IN AAAA 2001:db8::53'] },
  ]);

  // A headless service backed by our address: its endpoint names.
  const cluster = standardCluster();
  cluster.services.push(svc('kube-system', 'dns-hl', { ips: 'None' }));
  cluster.endpointSlices.push(slice('kube-system', 'dns-hl-1', 'dns-hl', [ep('10.244.0.77', { hostname: 'me' }), ep('10.244.0.78')]));
  const hl = 'dns-hl.kube-system.svc.cluster.local.';
  await run(t, rig({ cluster, localIPs: ['10.244.0.77'] }), [
    {
      q: 'cluster.local.',
      type: 'NS',
      rcode: 'NOERROR',
      answer: [`cluster.local. 5 IN NS me.${hl}`, `cluster.local. 5 IN NS 10-244-0-78.${hl}`],
      extra: [`me.${hl} 5 IN A 10.244.0.77`, `10-244-0-78.${hl} 5 IN A 10.244.0.78`],
    },
  ]);

  // No local addresses: NODATA.
  await run(t, rig({ localIPs: [] }), [{ q: 'cluster.local.', type: 'NS', ...NODATA }]);
});

t.test('case: owner names keep the query spelling, targets the spelled zone (§3, §6)', async (t) => {
  const spelled = 'svc.Cluster.LOCAL.';
  await run(t, rig(), [
    { q: 'SVC1.TestNS.svc.cluster.local.', type: 'A', rcode: 'NOERROR', answer: ['SVC1.TestNS.svc.cluster.local. 5 IN A 10.0.0.1'] },
    {
      q: `_Http._Tcp.Svc1.testns.${spelled}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [`_Http._Tcp.Svc1.testns.${spelled} 5 IN SRV 0 100 80 svc1.testns.${spelled}`],
      extra: [`svc1.testns.${spelled} 5 IN A 10.0.0.1`],
    },
    {
      q: `Dup-Name.HDLS1.testns.${spelled}`,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: [`Dup-Name.HDLS1.testns.${spelled} 5 IN SRV 0 50 80 dup-name.hdls1.testns.${spelled}`],
      extra: [`dup-name.hdls1.testns.${spelled} 5 IN A 172.0.0.4`, `dup-name.hdls1.testns.${spelled} 5 IN A 172.0.0.5`],
    },
    { q: `svc0.testns.${spelled}`, type: 'A', ...NX, zone: 'Cluster.LOCAL.' },
    { q: `svc1.testns.${spelled}`, type: 'AAAA', ...NODATA, zone: 'Cluster.LOCAL.' },
  ]);
});

t.test('PTR (§6 PTR, §13 item 7)', async (t) => {
  const r = rig();
  await run(t, r, [
    { q: '1.0.0.10.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.${S}`] },
    // Endpoint of two services: one PTR each.
    {
      q: '2.0.0.172.in-addr.arpa.',
      type: 'PTR',
      rcode: 'NOERROR',
      answer: [`2.0.0.172.in-addr.arpa. 5 IN PTR 172-0-0-2.hdls1.testns.${S}`, `2.0.0.172.in-addr.arpa. 5 IN PTR shared.svc-other.other.${S}`],
    },
    { q: '4.0.0.172.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`4.0.0.172.in-addr.arpa. 5 IN PTR dup-name.hdls1.testns.${S}`] },
    // Target in the configured primary zone (lower case), owner as asked.
    { q: '1.0.0.10.IN-ADDR.ARPA.', type: 'PTR', rcode: 'NOERROR', answer: [`1.0.0.10.IN-ADDR.ARPA. 5 IN PTR svc1.testns.${S}`] },
    // A pod IP that is no endpoint, a not-ready endpoint, an unknown IP: NXDOMAIN.
    { q: '1.0.240.10.in-addr.arpa.', type: 'PTR', ...NX, zone: 'in-addr.arpa.' },
    { q: '30.0.0.172.in-addr.arpa.', type: 'PTR', ...NX, zone: 'in-addr.arpa.' },
    { q: '0.10.in-addr.arpa.', type: 'PTR', ...NX, zone: 'in-addr.arpa.' },
    // Other types in a reverse zone: NXDOMAIN, NODATA at its apex.
    { q: '1.0.0.10.in-addr.arpa.', type: 'A', ...NX, zone: 'in-addr.arpa.' },
    { q: 'in-addr.arpa.', type: 'A', ...NODATA, zone: 'in-addr.arpa.' },
    { q: 'in-addr.arpa.', type: 'SOA', rcode: 'NOERROR', answer: [soa('in-addr.arpa.')] },
    // IPv6.
    {
      q: '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa.',
      type: 'PTR',
      rcode: 'NOERROR',
      answer: [`1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa. 5 IN PTR svc6.testns.${S}`],
    },
    {
      q: '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5.ip6.arpa.',
      type: 'PTR',
      rcode: 'NOERROR',
      answer: [`1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5.ip6.arpa. 5 IN PTR 5678-abcd--1.hdls1.testns.${S}`],
    },
    // PTR for forward names: existence only.
    { q: `svc1.testns.${S}`, type: 'PTR', ...NODATA },
    { q: `svc0.testns.${S}`, type: 'PTR', ...NX },
  ]);
});

t.test('PTR: the first-added ClusterIP service wins; `namespaces` filters, `namespace_labels` does not', async (t) => {
  const cluster = standardCluster();
  cluster.services.push(svc('testns', 'svc1-twin', { ips: ['10.0.0.1'] }));
  await run(t, rig({ cluster }), [
    { q: '1.0.0.10.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.${S}`] },
  ]);
  await run(t, rig({ options: [dir('namespaces', ['testns'])] }), [
    { q: '1.1.0.10.in-addr.arpa.', type: 'PTR', ...NX, zone: 'in-addr.arpa.' },
    { q: '2.0.0.172.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`2.0.0.172.in-addr.arpa. 5 IN PTR 172-0-0-2.hdls1.testns.${S}`] },
  ]);
  await run(t, rig({ options: [dir('namespace_labels', ['team=b'])] }), [
    { q: '1.0.0.10.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.${S}`] },
  ]);
});

t.test('pods insecure (§6 pod records, §13 item 5)', async (t) => {
  const p = 'podns.pod.cluster.local.';
  await run(t, rig({ options: [dir('pods', ['insecure'])] }), [
    { q: `1-2-3-4.${p}`, type: 'A', rcode: 'NOERROR', answer: [`1-2-3-4.${p} 5 IN A 1.2.3.4`] },
    { q: `1-2-3-4.${p}`, type: 'AAAA', ...NODATA },
    { q: `1-2-3-4.${p}`, type: 'TXT', ...NODATA },
    { q: `1-2-3-4.${p}`, type: 'SRV', rcode: 'NOERROR', answer: [`1-2-3-4.${p} 5 IN SRV 0 100 0 1-2-3-4.${p}`], extra: [`1-2-3-4.${p} 5 IN A 1.2.3.4`] },
    { q: `fd00--1.${p}`, type: 'AAAA', rcode: 'NOERROR', answer: [`fd00--1.${p} 5 IN AAAA fd00::1`] },
    { q: `fd00--1.${p}`, type: 'A', ...NODATA },
    { q: `1-2-3.${p}`, type: 'A', ...NX },
    { q: `01-2-3-4.${p}`, type: 'A', ...NX },
    { q: `not-an-ip.${p}`, type: 'A', ...NX },
    // The namespace must still exist.
    { q: '1-2-3-4.nsnoexist.pod.cluster.local.', type: 'A', ...NX },
    { q: p, type: 'A', ...NODATA },
    // CoreDNS ignores labels left of the pod name.
    { q: `x.1-2-3-4.${p}`, type: 'A', rcode: 'NOERROR', answer: [`x.1-2-3-4.${p} 5 IN A 1.2.3.4`] },
    { q: `a.b.c.1-2-3-4.${p}`, type: 'A', ...NX },
  ]);
});

t.test('pods verified', async (t) => {
  const p = 'podns.pod.cluster.local.';
  await run(t, rig({ options: [dir('pods', ['verified'])] }), [
    { q: `10-240-0-1.${p}`, type: 'A', rcode: 'NOERROR', answer: [`10-240-0-1.${p} 5 IN A 10.240.0.1`] },
    { q: `10-240-0-1.${p}`, type: 'AAAA', ...NODATA },
    // The pod must be in the asked namespace.
    { q: '10-240-0-1.testns.pod.cluster.local.', type: 'A', ...NX },
    { q: '10-240-0-2.testns.pod.cluster.local.', type: 'A', rcode: 'NOERROR', answer: ['10-240-0-2.testns.pod.cluster.local. 5 IN A 10.240.0.2'] },
    { q: `fd00--1-1.${p}`, type: 'AAAA', rcode: 'NOERROR', answer: [`fd00--1-1.${p} 5 IN AAAA fd00::1:1`] },
    // The spelled address must equal status.podIP as text.
    { q: `fd00-0-0-0-0-0-1-1.${p}`, type: 'AAAA', ...NX },
    // Terminating and finished pods are not answered; unknown IPs neither.
    { q: `10-240-0-9.${p}`, type: 'A', ...NX },
    { q: `10-240-0-8.${p}`, type: 'A', ...NX },
    { q: `10-240-0-3.${p}`, type: 'A', ...NX },
    { q: p, type: 'A', ...NODATA },
  ]);
});

t.test('endpoint_pod_names', async (t) => {
  const pn = `podnames.testns.${S}`;
  await run(t, rig({ options: [dir('endpoint_pod_names')] }), [
    { q: `web-0.${pn}`, type: 'A', rcode: 'NOERROR', answer: [`web-0.${pn} 5 IN A 172.0.0.50`] },
    { q: `172-0-0-50.${pn}`, type: 'A', ...NX },
    // hostname still wins; no targetRef → dashed IP.
    { q: `h1.${pn}`, type: 'A', rcode: 'NOERROR', answer: [`h1.${pn} 5 IN A 172.0.0.51`] },
    { q: `web-1.${pn}`, type: 'A', ...NX },
    { q: `172-0-0-52.${pn}`, type: 'A', rcode: 'NOERROR', answer: [`172-0-0-52.${pn} 5 IN A 172.0.0.52`] },
    { q: `web-3.${pn}`, type: 'AAAA', rcode: 'NOERROR', answer: [`web-3.${pn} 5 IN AAAA 2001:db8::`] },
    {
      q: pn,
      type: 'SRV',
      rcode: 'NOERROR',
      answer: ['web-0', 'h1', '172-0-0-52', 'web-3'].map((n) => `${pn} 5 IN SRV 0 25 80 ${n}.${pn}`),
      extra: [`web-0.${pn} 5 IN A 172.0.0.50`, `h1.${pn} 5 IN A 172.0.0.51`, `172-0-0-52.${pn} 5 IN A 172.0.0.52`, `web-3.${pn} 5 IN AAAA 2001:db8::`],
    },
    { q: '50.0.0.172.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`50.0.0.172.in-addr.arpa. 5 IN PTR web-0.${pn}`] },
  ]);
});

t.test('namespaces and namespace_labels', async (t) => {
  await run(t, rig({ options: [dir('namespaces', ['testns'])] }), [
    { q: `svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc1.testns.${S} 5 IN A 10.0.0.1`] },
    { q: `svc-other.other.${S}`, type: 'A', ...NX },
    { q: `other.${S}`, type: 'A', ...NX },
    { q: `testns.${S}`, type: 'A', ...NODATA },
  ]);
  await run(t, rig({ options: [dir('namespace_labels', ['team=b'])] }), [
    { q: `svc-other.other.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc-other.other.${S} 5 IN A 10.0.1.1`] },
    { q: `svc1.testns.${S}`, type: 'A', ...NX },
    { q: `testns.${S}`, type: 'A', ...NX },
  ]);
});

t.test('labels selects Services, EndpointSlices and Pods', async (t) => {
  const cluster = {
    namespaces: [ns('a')],
    services: [svc('a', 'in', { ips: ['10.1.0.1'], labels: { env: 'prod' } }), svc('a', 'out', { ips: ['10.1.0.2'] }), svc('a', 'hl', { ips: 'None', labels: { env: 'prod' } })],
    endpointSlices: [
      slice('a', 'hl-1', 'hl', [ep('10.2.0.1')], { labels: { env: 'prod' } }),
      slice('a', 'hl-2', 'hl', [ep('10.2.0.2')]),
    ],
    pods: [],
  };
  await run(t, rig({ cluster, options: [dir('labels', ['env', 'in', '(prod,', 'qa)'])] }), [
    { q: `in.a.${S}`, type: 'A', rcode: 'NOERROR', answer: [`in.a.${S} 5 IN A 10.1.0.1`] },
    { q: `out.a.${S}`, type: 'A', ...NX },
    { q: `hl.a.${S}`, type: 'A', rcode: 'NOERROR', answer: [`hl.a.${S} 5 IN A 10.2.0.1`] },
    { q: '2.0.1.10.in-addr.arpa.', type: 'PTR', ...NX, zone: 'in-addr.arpa.' },
  ]);
});

t.test('ignore empty_service', async (t) => {
  await run(t, rig({ options: [dir('ignore', ['empty_service'])] }), [
    ...['A', 'SRV', 'TXT'].map((type): Case => ({ q: `svcempty.testns.${S}`, type, ...NX })),
    { q: `noports.testns.${S}`, type: 'A', ...NX },
    { q: `svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc1.testns.${S} 5 IN A 10.0.0.1`] },
    // Headless and ExternalName services are not affected.
    { q: `hdlsprtls.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`hdlsprtls.testns.${S} 5 IN A 172.0.0.20`] },
    { q: `external.testns.${S}`, type: 'CNAME', rcode: 'NOERROR', answer: [`external.testns.${S} 5 IN CNAME ext.interwebs.test.`] },
  ]);
});

t.test('noendpoints', async (t) => {
  await run(t, rig({ options: [dir('noendpoints')] }), [
    { q: `hdls1.testns.${S}`, type: 'A', ...NX },
    { q: `ep1a.svc1.testns.${S}`, type: 'A', ...NX },
    { q: `svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc1.testns.${S} 5 IN A 10.0.0.1`] },
    { q: `external.testns.${S}`, type: 'CNAME', rcode: 'NOERROR', answer: [`external.testns.${S} 5 IN CNAME ext.interwebs.test.`] },
    { q: '1.0.0.172.in-addr.arpa.', type: 'PTR', ...NX, zone: 'in-addr.arpa.' },
    { q: '1.0.0.10.in-addr.arpa.', type: 'PTR', rcode: 'NOERROR', answer: [`1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.${S}`] },
    // The kube-dns endpoint is unknown now: ns.dns with the local address.
    { q: 'cluster.local.', type: 'NS', rcode: 'NOERROR', answer: ['cluster.local. 5 IN NS ns.dns.cluster.local.'], extra: ['ns.dns.cluster.local. 5 IN A 10.244.0.10'] },
  ]);
  await run(t, rig({ options: [dir('noendpoints'), dir('ignore', ['empty_service'])] }), [{ q: `svc1.testns.${S}`, type: 'A', ...NX }]);
});

t.test('ttl', async (t) => {
  await run(t, rig({ options: [dir('ttl', ['30'])] }), [
    { q: `svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc1.testns.${S} 30 IN A 10.0.0.1`] },
    { q: `svc0.testns.${S}`, type: 'A', ...NX, ttl: 30 },
    { q: 'dns-version.cluster.local.', type: 'TXT', rcode: 'NOERROR', answer: ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'] },
  ]);
  // SOA TTL is min(ttl, 300); its minimum field is the ttl itself.
  await run(t, rig({ options: [dir('ttl', ['600'])] }), [
    { q: `svc0.testns.${S}`, type: 'A', ...NX, ttl: 600 },
    { q: 'cluster.local.', type: 'SOA', rcode: 'NOERROR', answer: [soa('cluster.local.', 600)] },
  ]);
  t.match(soa('cluster.local.', 600), / 300 IN SOA .* 600$/);
});

t.test('fallthrough only on NXDOMAIN, only in its zones, before the unsynced rule', async (t) => {
  const all = rig({ options: [dir('fallthrough')] });
  let r = await ask(all.handler, `svc0.testns.${S}`, 'A');
  t.equal(r.writtenBy, 'next', 'NXDOMAIN falls through');
  t.equal(all.next.reached, 1);
  r = await ask(all.handler, `svc1.testns.${S}`, 'AAAA');
  t.equal(r.writtenBy, 'kubernetes', 'NODATA does not');
  t.equal(r.rcode, 'NOERROR');
  all.synced.value = false;
  r = await ask(all.handler, `svc0.testns.${S}`, 'A');
  t.equal(r.writtenBy, 'next', 'fallthrough is checked before the unsynced SERVFAIL');

  const rev = rig({ options: [dir('fallthrough', ['in-addr.arpa', 'ip6.arpa'])] });
  r = await ask(rev.handler, '9.9.9.9.in-addr.arpa.', 'PTR');
  t.equal(r.writtenBy, 'next', 'reverse miss falls through');
  r = await ask(rev.handler, `svc0.testns.${S}`, 'A');
  t.equal(r.rcode, 'NXDOMAIN', 'names outside the fallthrough zones do not');
  t.equal(rev.next.reached, 1);

  const alone = rig({ options: [dir('fallthrough')], next: null });
  r = await ask(alone.handler, `svc0.testns.${S}`, 'A');
  t.equal(r.written, false, 'no next plugin: nothing written');
  t.equal(r.returned, RCODE.SERVFAIL);
});

t.test('unsynced: would-be NXDOMAIN becomes SERVFAIL with SOA, positive answers still served', async (t) => {
  await run(t, rig({ synced: false }), [
    { q: `svc0.testns.${S}`, type: 'A', rcode: 'SERVFAIL' },
    { q: 'foo.cluster.local.', type: 'A', rcode: 'SERVFAIL' },
    { q: `svc1.testns.${S}`, type: 'A', rcode: 'NOERROR', answer: [`svc1.testns.${S} 5 IN A 10.0.0.1`] },
    { q: `svc1.testns.${S}`, type: 'AAAA', ...NODATA },
  ]);
});

t.test('AXFR/IXFR are REFUSED without a reply; other zones go to the next plugin', async (t) => {
  const r = rig();
  for (const type of ['AXFR', 'IXFR']) {
    const x = await ask(r.handler, 'cluster.local.', type);
    t.equal(x.returned, RCODE.REFUSED, type);
    t.equal(x.written, false, `${type}: the server writes the error`);
  }
  const out = await ask(r.handler, 'example.com.', 'A');
  t.equal(out.writtenBy, 'next');
  t.equal(r.next.reached, 1);
});

t.test('reply header: AA set, RA clear, RD and id copied, question echoed as asked', async (t) => {
  const r = rig();
  const { q, sink } = makeQuery('SVC1.testns.svc.cluster.local.', TYPE.A, { id: 777 });
  await r.handler.serve(q);
  const { decodeMessage } = await import('../../../lib/dns/wire.js');
  const m = decodeMessage(sink.wire!);
  t.equal(m.id, 777);
  t.ok(m.flags & FLAG.QR);
  t.ok(m.flags & FLAG.AA);
  t.ok(m.flags & FLAG.RD);
  t.notOk(m.flags & FLAG.RA);
  t.strictSame(m.question, [{ name: 'SVC1.testns.svc.cluster.local.', type: TYPE.A, class: 1 }]);
});

t.test('zone "." and longest-zone match', async (t) => {
  const root = k8s({ args: ['.'] });
  let r = await ask(root.handler, 'svc1.testns.svc.', 'A');
  t.strictSame(r.answer, lines(['svc1.testns.svc. 5 IN A 10.0.0.1']));
  r = await ask(root.handler, 'nope.testns.svc.', 'A');
  t.strictSame(r.authority, lines(['. 5 IN SOA ns.dns. hostmaster. 1700000000 7200 1800 86400 5']));
  // The longest matching zone decides where the name grammar starts.
  const short = k8s({ args: ['local'] });
  r = await ask(short.handler, `svc1.testns.${S}`, 'A');
  t.equal(r.rcode, 'NXDOMAIN', 'under zone local. the last label is `cluster`');
  const two = k8s({ args: ['local', 'cluster.local'] });
  r = await ask(two.handler, `svc1.testns.${S}`, 'A');
  t.strictSame(r.answer, lines([`svc1.testns.${S} 5 IN A 10.0.0.1`]));
  t.strictSame(r.authority, []);
  r = await ask(two.handler, `svc0.testns.${S}`, 'A');
  t.strictSame(r.authority, lines([soa('cluster.local.')]), 'the SOA is the longest zone');
});

t.test('large headless answers: truncated with TC over UDP, complete over TCP (§13 item 9)', async (t) => {
  const cluster = standardCluster();
  cluster.services.push(svc('testns', 'big', { ips: 'None' }));
  const eps = Array.from({ length: 60 }, (_, i) => ep(`10.50.0.${i + 1}`));
  cluster.endpointSlices.push(slice('testns', 'big-1', 'big', eps, { ports: [['http', 'TCP', 80]] }));
  const r = rig({ cluster });
  const udp = await ask(r.handler, `big.testns.${S}`, 'A');
  t.ok(udp.tc, 'TC over UDP/512');
  t.ok(udp.answer.length > 0 && udp.answer.length < 60, `some records dropped (${udp.answer.length} kept)`);
  const edns = await ask(r.handler, `big.testns.${S}`, 'A', { edns: 4096 });
  t.notOk(edns.tc, 'fits a 4096-byte EDNS buffer');
  t.equal(edns.answer.length, 60);
  const tcp = await ask(r.handler, `big.testns.${S}`, 'SRV', { proto: 'tcp' });
  t.notOk(tcp.tc);
  t.equal(tcp.answer.length, 60);
  t.equal(tcp.additional.length, 60);
  t.match(tcp.answer[0], /\tSRV\t0 1 80 10-50-0-/, 'weight floor(100/60) = 1');
});
