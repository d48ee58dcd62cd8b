// coredns_kubernetes_dns_programming_duration_seconds: headless services' slices carrying the controller's
// last-change-trigger-time are observed once they are served; the initial listing is not.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Registry } from 'prom-client';
import { programmingLatency, recordProgramming } from '../../../lib/plugins/kubernetes/metrics.js';
import { boundPort } from '../../../lib/util/http-endpoint.js';
import { ask, rcodeOf } from '../../support/client.js';
import { namespaceYaml, pollUntil, serviceYaml, tempDir, yamlDocs } from '../../support/e2e-cluster.js';
import { httpGet } from '../../support/http.js';
import { startServer } from '../../support/server.js';

t.test('only headless services with a trigger time are observed', async (t) => {
  const reg = new Registry();
  const h = programmingLatency(reg);
  t.equal(programmingLatency(reg), h, 'one histogram per registry');
  const svc = (headless: boolean) => ({ namespace: 'ns', name: 's', resourceVersion: '1', labels: {}, type: 'ClusterIP', clusterIPs: headless ? ['None'] : ['10.0.0.1'], headless, externalName: '', ports: [] });
  const slice = (t0: number) => ({ namespace: 'ns', name: 's-1', resourceVersion: '1', labels: {}, serviceName: 's', addressType: 'IPv4', ports: [], addresses: [], notReady: [], hostnames: [], targetRefNames: [], lastChangeTriggerTime: t0 });
  const now = 1_700_000_000_500;
  recordProgramming([{ kind: 'EndpointSlice', type: 'added', obj: slice(now - 250) }], () => svc(true), h, now);
  recordProgramming([{ kind: 'EndpointSlice', type: 'modified', obj: slice(now - 100) }], () => svc(false), h, now);
  recordProgramming([{ kind: 'EndpointSlice', type: 'modified', obj: slice(0) }], () => svc(true), h, now);
  recordProgramming([{ kind: 'EndpointSlice', type: 'deleted', old: slice(now) }], () => svc(true), h, now);
  const text = await reg.metrics();
  t.match(text, /coredns_kubernetes_dns_programming_duration_seconds_count\{service_kind="headless_with_selector"\} 1/);
  t.match(text, /coredns_kubernetes_dns_programming_duration_seconds_sum\{service_kind="headless_with_selector"\} 0\.25/);
  t.match(text, /_bucket\{le="0\.256",service_kind="headless_with_selector"\} 1/);
});

t.test('end to end: a fixture edit with the annotation is measured and scraped', async (t) => {
  const { dir, cleanup } = tempDir('clusterdns-prog-');
  t.teardown(cleanup);
  const file = path.join(dir, 'cluster.yaml');
  const slice = (ip: string, when: string): string => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-abcde
  namespace: default
  labels:
    kubernetes.io/service-name: db
  annotations:
    endpoints.kubernetes.io/last-change-trigger-time: "${when}"
addressType: IPv4
ports:
- name: pg
  port: 5432
  protocol: TCP
endpoints:
- addresses: ["${ip}"]
  conditions:
    ready: true
`;
  const base = [namespaceYaml('default'), serviceYaml('default', 'db', 'None', [['pg', 'TCP', 5432]])];
  writeFileSync(file, yamlDocs(...base, slice('10.244.0.7', new Date(Date.now() - 60_000).toISOString())));
  const s = await startServer(`.:0 {\n prometheus 127.0.0.1:0\n kubernetes cluster.local {\n  fixture ${dir}\n }\n}\n`);
  t.teardown(() => s.stop());
  const mport = boundPort(s.inst.server.metrics, 'prometheus', '127.0.0.1:0')!;
  const scrape = async (): Promise<string> => (await httpGet(mport, '/metrics')).body;
  t.notMatch(await scrape(), /programming_duration_seconds_count\{/, 'the initial listing is not measured');
  writeFileSync(file, yamlDocs(...base, slice('10.244.0.8', new Date().toISOString())));
  const seen = await pollUntil(async () => {
    const r = await ask(s.port, 'db.default.svc.cluster.local', 'A');
    return rcodeOf(r) === 'NOERROR' && JSON.stringify(r.answers).includes('10.244.0.8');
  });
  t.ok(seen.ok, 'the change is served');
  t.match(await scrape(), /coredns_kubernetes_dns_programming_duration_seconds_count\{service_kind="headless_with_selector"\} 1/);
});
