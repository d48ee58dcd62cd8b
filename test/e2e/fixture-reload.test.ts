// Editing a fixture while the server runs, end to end: a new Service appears, a broken edit is rejected with a log
// line naming the file and line while the last good cluster keeps answering, a fix is picked up, a deletion removes
// the name. (The unsynced state — SERVFAIL for would-be NXDOMAIN — cannot be reached with fixtures: they are read
// before the server listens.)
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { ask, rcodeOf } from '../support/client.js';
import { startServer, type Started } from '../support/server.js';
import { namespaceYaml, pollUntil, section, serviceYaml, sliceYaml, tempDir, yamlDocs } from '../support/e2e-cluster.js';

const POLL_MS = 3000;
const { dir, cleanup } = tempDir('reload');
const file = path.join(dir, 'cluster.yaml');
t.teardown(cleanup);

const BASE = [namespaceYaml('default'), serviceYaml('default', 'old', '10.100.0.1', [['http', 'TCP', 80]])];
const NEW_SVC = [
  serviceYaml('default', 'fresh', '10.100.0.2', [['http', 'TCP', 80]]),
  sliceYaml('default', 'fresh-abcde', 'fresh', [{ ip: '10.244.0.5' }], [['http', 'TCP', 80]]),
];
const NEWER_SVC = serviceYaml('default', 'newer', '10.100.0.3', [['http', 'TCP', 80]]);

let srv: Started;
t.before(async () => {
  writeFileSync(file, yamlDocs(...BASE));
  srv = await startServer(`.:0 {\n    kubernetes cluster.local {\n        fixture ${dir}\n    }\n}\n`);
});
t.teardown(() => srv.stop());

/** The A answer lines for `name` (empty on NODATA/NXDOMAIN), with the rcode. */
async function lookup(name: string): Promise<{ rcode: string; answer: string[] }> {
  const r = await ask(srv.port, name, 'A');
  return { rcode: rcodeOf(r), answer: section(r, 'answers') };
}

const FRESH = 'fresh.default.svc.cluster.local';
const OLD = 'old.default.svc.cluster.local';
const NEWER = 'newer.default.svc.cluster.local';

t.test('edits are served, a broken edit keeps the last good cluster, a fix and a deletion are picked up', async (t) => {
  t.same(await lookup(OLD), { rcode: 'NOERROR', answer: [`${OLD} 5 A 10.100.0.1`] }, 'initial content served');
  t.same(await lookup(FRESH), { rcode: 'NXDOMAIN', answer: [] }, 'not there yet');

  // 1. Add a Service and its EndpointSlice.
  writeFileSync(file, yamlDocs(...BASE, ...NEW_SVC));
  const added = await pollUntil(async () => (await lookup(FRESH)).rcode === 'NOERROR', POLL_MS);
  t.ok(added.ok, `new Service answered after ${added.ms} ms (limit ${POLL_MS})`);
  t.same(await lookup(FRESH), { rcode: 'NOERROR', answer: [`${FRESH} 5 A 10.100.0.2`] });
  t.same(section(await ask(srv.port, `10-244-0-5.${FRESH}`, 'A'), 'answers'), [`10-244-0-5.${FRESH} 5 A 10.244.0.5`], 'its endpoint too');

  // 2. Break the YAML: an unclosed flow sequence on a known line, after a new Service that must not appear.
  const good = yamlDocs(...BASE, ...NEW_SVC);
  const broken = `${good}---\n${NEWER_SVC}  bad: [unclosed\n`;
  const brokenLine = broken.split('\n').indexOf('  bad: [unclosed') + 1;
  const logsBefore = srv.logs.length;
  writeFileSync(file, broken);
  const logged = await pollUntil(() => srv.logs.slice(logsBefore).some((l) => l.level === 50), POLL_MS);
  t.ok(logged.ok, `an error was logged after ${logged.ms} ms`);
  const err = srv.logs.slice(logsBefore).find((l) => l.level === 50)!;
  t.equal(err.file, file, 'the log names the file');
  t.type(err.line, 'number', 'the log has a line number');
  // The parser notices the unclosed `[` where the flow sequence should have ended: the bad line or the next one.
  t.ok((err.line as number) >= brokenLine && (err.line as number) <= brokenLine + 1, `line ${String(err.line)} is where the YAML broke (${brokenLine})`);
  t.match(String(err.msg), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`), `the message says file:line: ${String(err.msg)}`);
  t.same(await lookup(FRESH), { rcode: 'NOERROR', answer: [`${FRESH} 5 A 10.100.0.2`] }, 'still the last good cluster');
  t.same(await lookup(NEWER), { rcode: 'NXDOMAIN', answer: [] }, 'nothing from the broken file');

  // 3. Fix it: the Service that was in the broken edit now appears.
  writeFileSync(file, yamlDocs(...BASE, ...NEW_SVC, NEWER_SVC));
  const fixed = await pollUntil(async () => (await lookup(NEWER)).rcode === 'NOERROR', POLL_MS);
  t.ok(fixed.ok, `fixed file served after ${fixed.ms} ms`);
  t.same(await lookup(NEWER), { rcode: 'NOERROR', answer: [`${NEWER} 5 A 10.100.0.3`] });
  t.ok(srv.logs.some((l) => l.msg === 'fixture reloaded' && l.services === 3), 'reload logged with the new counts');

  // 4. Delete a Service (and its slice).
  writeFileSync(file, yamlDocs(...BASE, NEWER_SVC));
  const gone = await pollUntil(async () => (await lookup(FRESH)).rcode === 'NXDOMAIN', POLL_MS);
  t.ok(gone.ok, `deleted Service is NXDOMAIN after ${gone.ms} ms`);
  t.same(await lookup(`10-244-0-5.${FRESH}`), { rcode: 'NXDOMAIN', answer: [] }, 'its endpoint name too');
  t.same(await lookup(OLD), { rcode: 'NOERROR', answer: [`${OLD} 5 A 10.100.0.1`] }, 'the rest unchanged');
  t.same(await lookup(NEWER), { rcode: 'NOERROR', answer: [`${NEWER} 5 A 10.100.0.3`] });
});

t.test('a new file dropped into the fixture folder is read, and removing it undoes it', async (t) => {
  const extra = path.join(dir, 'extra.yaml');
  writeFileSync(extra, yamlDocs(namespaceYaml('extra'), serviceYaml('extra', 'svc1', '10.100.9.9', [['dns', 'UDP', 53]])));
  const name = 'svc1.extra.svc.cluster.local';
  const seen = await pollUntil(async () => (await lookup(name)).rcode === 'NOERROR', POLL_MS);
  t.ok(seen.ok, `answered after ${seen.ms} ms`);
  t.same((await lookup(name)).answer, [`${name} 5 A 10.100.9.9`]);
  const srvRec = await ask(srv.port, `_dns._udp.${name}`, 'SRV');
  t.same(section(srvRec, 'answers'), [`_dns._udp.${name} 5 SRV 0 100 53 ${name}`]);
  (await import('node:fs')).rmSync(extra);
  const removed = await pollUntil(async () => (await lookup(name)).rcode === 'NXDOMAIN', POLL_MS);
  t.ok(removed.ok, `NXDOMAIN again after ${removed.ms} ms`);
  t.equal(rcodeOf(await ask(srv.port, 'extra.svc.cluster.local', 'A')), 'NXDOMAIN', 'its namespace is gone too');
});
