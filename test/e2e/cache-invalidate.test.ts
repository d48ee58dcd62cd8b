// A cached NXDOMAIN for a cluster name disappears the moment the fixture adds that Service: the kubernetes plugin
// tells the block's cache which names changed, instead of letting a negative answer live for its TTL.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ask, rcodeOf } from '../support/client.js';
import { namespaceYaml, pollUntil, serviceYaml, sliceYaml, soaOf, tempDir, yamlDocs } from '../support/e2e-cluster.js';
import { startServer } from '../support/server.js';

t.test('new Service and new endpoint IP replace cached negative answers at once', async (t) => {
  const { dir, cleanup } = tempDir('clusterdns-cache-');
  t.teardown(cleanup);
  const file = path.join(dir, 'cluster.yaml');
  const base = [namespaceYaml('default'), serviceYaml('default', 'old', '10.100.0.1', [['http', 'TCP', 80]])];
  writeFileSync(file, yamlDocs(...base));
  const s = await startServer(`.:0 {\n cache 30\n kubernetes cluster.local in-addr.arpa {\n  fixture ${dir}\n  ttl 30\n }\n}\n`);
  t.teardown(() => s.stop());

  const name = 'fresh.default.svc.cluster.local';
  const first = await ask(s.port, name, 'A');
  t.equal(rcodeOf(first), 'NXDOMAIN');
  t.equal(soaOf(first)!.ttl, 30);
  await new Promise((r) => setTimeout(r, 1100));
  const cached = await ask(s.port, name, 'A');
  t.equal(rcodeOf(cached), 'NXDOMAIN');
  t.ok(soaOf(cached)!.ttl < 30, `served from the cache (SOA TTL counted down to ${soaOf(cached)!.ttl})`);
  const ptrBefore = await ask(s.port, '5.0.244.10.in-addr.arpa', 'PTR');
  t.equal(rcodeOf(ptrBefore), 'NXDOMAIN', 'endpoint IP not known yet');

  writeFileSync(file, yamlDocs(...base, serviceYaml('default', 'fresh', '10.100.0.2', [['http', 'TCP', 80]]), sliceYaml('default', 'fresh-abcde', 'fresh', [{ ip: '10.244.0.5', hostname: 'web-0' }], [['http', 'TCP', 80]])));
  const seen = await pollUntil(async () => rcodeOf(await ask(s.port, name, 'A')) === 'NOERROR');
  t.ok(seen.ok, `the new Service answers after ${seen.ms} ms, well before the cached NXDOMAIN would expire (30 s)`);
  const a = await ask(s.port, name, 'A');
  t.same(a.answers!.map((x) => (x as { data: string }).data), ['10.100.0.2']);
  t.equal(rcodeOf(await ask(s.port, `web-0.${name}`, 'A')), 'NOERROR', 'its endpoint name too');
  t.equal(rcodeOf(await ask(s.port, '5.0.244.10.in-addr.arpa', 'PTR')), 'NOERROR', 'and the PTR of its endpoint');
  t.equal(rcodeOf(await ask(s.port, 'old.default.svc.cluster.local', 'A')), 'NOERROR', 'unrelated names unaffected');
});
