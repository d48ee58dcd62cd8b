// The demo cluster asked through the real `dig` binary (BIND 9.18), as a user would: answers, status and flag
// lines, EDNS echo, TCP, reverse lookups and truncation as dig reports them. CI installs bind9-dnsutils; without
// dig this file fails (it does not skip).
import path from 'node:path';
import { copyFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { startServer, type Started } from '../support/server.js';
import { DEMO_DIR, namespaceYaml, serviceYaml, sliceYaml, tempDir, yamlDocs } from '../support/e2e-cluster.js';
import { noClass, parseDig, requireDig, runDig } from '../support/e2e-dig.js';

const Z = 'svc.cluster.local';
const BIG = 60;
let srv: Started;

t.before(async () => {
  t.comment(requireDig());
  // The demo cluster plus a headless service with 60 ready endpoints, for truncation.
  const { dir, cleanup } = tempDir('dig');
  t.teardown(cleanup);
  copyFileSync(path.join(DEMO_DIR, 'cluster.yaml'), path.join(dir, 'cluster.yaml'));
  const eps = Array.from({ length: BIG }, (_, i) => ({ ip: `10.1.0.${i + 1}` }));
  writeFileSync(path.join(dir, 'big.yaml'), yamlDocs(namespaceYaml('big'), serviceYaml('big', 'many', 'None', [['http', 'TCP', 80]]), sliceYaml('big', 'many-x1', 'many', eps, [['http', 'TCP', 80]])));
  srv = await startServer(`.:0 {\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        fixture ${dir}\n        pods insecure\n        ttl 30\n    }\n}\n`, { level: 'silent' });
});
t.teardown(() => srv?.stop());

const dig = async (...args: string[]) => {
  const r = await runDig(srv.port, args);
  if (r.code !== 0) throw new Error(`dig ${args.join(' ')} exited ${r.code}:\n${r.stdout}`);
  return parseDig(r.stdout);
};

t.test('+noall +answer: one A record in presentation format', async (t) => {
  const d = await dig('+noall', '+answer', `nginx-basic.default.${Z}`);
  t.same(d.records, [`nginx-basic.default.${Z}. 30 IN A 10.100.49.21`]);
});

t.test('full output: status, flags, counts, question, EDNS echo of dig’s buffer size, cookie echoed', async (t) => {
  const d = await dig(`nginx-basic.default.${Z}`);
  t.equal(d.status, 'NOERROR');
  t.same(d.flags, ['qr', 'aa', 'rd'], 'flags: qr aa rd (no ra)');
  t.match(d.counts, { QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1 });
  t.same(d.question, [`nginx-basic.default.${Z}. IN A`]);
  t.same(noClass(d.answer), [`nginx-basic.default.${Z}. 30 A 10.100.49.21`]);
  t.same(d.edns, { version: 0, flags: [], udp: 1232 }, 'OPT echoes dig’s default 1232, no DO');
  t.ok(d.comments.some((c) => /COOKIE: [0-9a-f]+ \(echoed\)/.test(c)), 'dig sees its cookie echoed');
  t.equal(d.transport, 'UDP');
});

t.test('+short for SRV, AAAA and TXT', async (t) => {
  const kafka = await dig('+short', `_tcp-kafka._tcp.kafka-headless.kafka.${Z}`, 'SRV');
  t.same(kafka.records.sort(), [0, 1, 2].map((i) => `0 33 9092 kafka-${i}.kafka-headless.kafka.${Z}.`));
  const headless = await dig('+short', `nginx-headless.default.${Z}`);
  t.same(headless.records.sort(), ['10.244.1.20', '10.244.3.22'], 'ready endpoints only');
  const dual = await dig('+short', `dual.default.${Z}`, 'AAAA');
  t.same(dual.records, ['fd00:10:96::1a']);
  const txt = await dig('+short', 'dns-version.cluster.local', 'TXT');
  t.same(txt.records, ['"1.1.0"']);
  const cname = await dig('+short', `external-service.default.${Z}`, 'CNAME');
  t.same(cname.records, ['my.database.example.com.']);
  const pod = await dig('+short', 'fd00-10-244-1--50.demo.pod.cluster.local', 'AAAA');
  t.same(pod.records, ['fd00:10:244:1::50']);
});

t.test('SRV with the additional section', async (t) => {
  const d = await dig(`_http._tcp.nginx-basic.default.${Z}`, 'SRV');
  t.equal(d.status, 'NOERROR');
  t.same(noClass(d.answer), [`_http._tcp.nginx-basic.default.${Z}. 30 SRV 0 100 80 nginx-basic.default.${Z}.`]);
  t.same(noClass(d.additional), [`nginx-basic.default.${Z}. 30 A 10.100.49.21`]);
});

t.test('-x: PTR for a cluster IP, an endpoint IP (two names) and an IPv6 cluster IP', async (t) => {
  t.same((await dig('+short', '-x', '10.100.49.21')).records, [`nginx-basic.default.${Z}.`]);
  t.same((await dig('+short', '-x', '10.244.1.90')).records.sort(), [`10-244-1-90.kafka.kafka.${Z}.`, `kafka-0.kafka-headless.kafka.${Z}.`]);
  const v6 = await dig('+noall', '+answer', '-x', 'fd00:10:96::1a');
  t.same(noClass(v6.records), [`a.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. 30 PTR dual.default.${Z}.`]);
  const none = await dig('-x', '10.244.9.9');
  t.equal(none.status, 'NXDOMAIN', 'an address nobody has');
  t.match(noClass(none.authority), [/^in-addr\.arpa\. 30 SOA ns\.dns\.in-addr\.arpa\. hostmaster\.in-addr\.arpa\. \d+ 7200 1800 86400 30$/]);
});

t.test('NXDOMAIN and NODATA status lines with the SOA in authority', async (t) => {
  const nx = await dig(`nosuch.default.${Z}`);
  t.equal(nx.status, 'NXDOMAIN');
  t.same(nx.flags, ['qr', 'aa', 'rd']);
  t.match(nx.counts, { ANSWER: 0, AUTHORITY: 1 });
  t.match(noClass(nx.authority), [/^cluster\.local\. 30 SOA ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 30$/]);
  const nodata = await dig(`nginx-basic.default.${Z}`, 'AAAA');
  t.equal(nodata.status, 'NOERROR');
  t.match(nodata.counts, { ANSWER: 0, AUTHORITY: 1 });
  t.equal(nodata.authority.length, 1);
  t.equal((await dig(`not-ready.demo.${Z}`)).status, 'NXDOMAIN', 'headless without ready endpoints');
  t.equal((await dig(`demo.${Z}`)).status, 'NOERROR', 'existing namespace');
  t.equal((await dig(`nosuch.${Z}`)).status, 'NXDOMAIN', 'missing namespace');
  t.equal((await dig('cluster.local', 'TXT')).status, 'NXDOMAIN', 'TXT at the apex (CoreDNS quirk)');
});

t.test('+tcp gives the same answer over TCP', async (t) => {
  const d = await dig('+tcp', `_tcp-kafka._tcp.kafka-headless.kafka.${Z}`, 'SRV');
  t.equal(d.transport, 'TCP');
  t.equal(d.status, 'NOERROR');
  t.equal(d.answer.length, 3);
  t.equal(d.additional.length, 3);
  const nx = await dig('+tcp', `nosuch.default.${Z}`);
  t.equal(nx.transport, 'TCP');
  t.equal(nx.status, 'NXDOMAIN');
});

t.test('+norec: RD is copied (clear), so flags are qr aa', async (t) => {
  const d = await dig('+norec', `nginx-basic.default.${Z}`);
  t.same(d.flags, ['qr', 'aa']);
  t.equal(d.answer.length, 1);
});

t.test('+dnssec: DO is echoed in the OPT record; +noedns: no OPT at all', async (t) => {
  const d = await dig('+dnssec', `nginx-basic.default.${Z}`);
  t.same(d.edns, { version: 0, flags: ['do'], udp: 1232 });
  t.equal(d.answer.length, 1, 'no RRSIG: the kubernetes plugin never signs');
  const sized = await dig('+bufsize=4000', `nginx-basic.default.${Z}`);
  t.equal(sized.edns?.udp, 4000, 'the client’s advertised size is echoed');
  const plain = await dig('+noedns', `nginx-basic.default.${Z}`);
  t.equal(plain.edns, undefined, 'no OPT in the reply without one in the query');
  t.equal(plain.answer.length, 1);
});

t.test('case: dig’s mixed-case query is answered in its spelling', async (t) => {
  const d = await dig('+noall', '+answer', 'NGINX-Basic.Default.SVC.Cluster.Local', 'SRV');
  t.same(noClass(d.records), ['NGINX-Basic.Default.SVC.Cluster.Local. 30 SRV 0 100 80 nginx-basic.default.svc.Cluster.Local.']);
});

t.test('truncation: +bufsize=512 +ignore shows tc; without +ignore dig retries over TCP and gets everything', async (t) => {
  const name = `many.big.${Z}`;
  const tc = await dig('+bufsize=512', '+ignore', name);
  t.ok(tc.flags.includes('tc'), `flags: ${tc.flags.join(' ')}`);
  t.ok(tc.answer.length > 0 && tc.answer.length < BIG, `${tc.answer.length} of ${BIG} records in 512 bytes`);
  const noedns = await dig('+noedns', '+ignore', name);
  t.ok(noedns.flags.includes('tc'), 'no EDNS: 512 bytes, tc');
  const retried = await dig('+bufsize=512', name);
  t.ok(retried.comments.some((c) => c.includes('Truncated, retrying in TCP mode')), 'dig saw TC and retried');
  t.equal(retried.transport, 'TCP');
  t.notOk(retried.flags.includes('tc'));
  t.equal(retried.answer.length, BIG);
  const big = await dig('+bufsize=4096', name);
  t.equal(big.transport, 'UDP');
  t.notOk(big.flags.includes('tc'));
  t.equal(big.answer.length, BIG, 'fits in 4096 bytes');
});
