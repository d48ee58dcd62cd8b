// Choosing the connection as CoreDNS does, and failing clearly when the configuration cannot work.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ApiClient } from '../../../lib/kube/api/client.js';
import { connect, SERVICE_ACCOUNT_ROOT_ENV } from '../../../lib/kube/api/connection.js';
import { tempDir } from '../../support/e2e-cluster.js';
import { FakeApiServer, writeKubeconfig } from '../../support/fake-apiserver.js';

const { dir, cleanup } = tempDir('conn');
t.teardown(cleanup);
const none = { kubeconfig: null, endpoint: null, tls: null };

/** GET /api/v1/namespaces through `spec`'s connection; resolves with the status code. */
async function probe(spec: Parameters<typeof connect>[0], env?: NodeJS.ProcessEnv): Promise<{ status: number; description: string }> {
  const conn = await connect(spec, env);
  try {
    const res = await new ApiClient(conn, { qps: 0, burst: 0, maxInflight: 0 }).get('/api/v1/namespaces', {}, new AbortController().signal);
    res.resume();
    return { status: res.statusCode ?? 0, description: conn.description };
  } finally {
    conn.close();
  }
}

t.test('kubeconfig: current context, or the CONTEXT argument; it wins over endpoint', async (t) => {
  const api = await FakeApiServer.start({ tls: true, token: 'tok' });
  t.teardown(() => api.stop());
  const file = writeKubeconfig(path.join(dir, 'kc'), { server: api.url, token: 'tok', caFile: api.pki!.caFile, currentContext: 'wrong' });
  const good = await probe({ kubeconfig: { file, context: 'fake' }, endpoint: 'http://127.0.0.1:1', tls: null });
  t.equal(good.status, 200, 'the named context reaches the server with its token and CA');
  t.match(good.description, /^kubeconfig .* context fake \(https:\/\/127\.0\.0\.1:\d+\)$/);
  await t.rejects(probe({ kubeconfig: { file, context: '' }, endpoint: null, tls: null }), { code: 'ECONNREFUSED' }, 'the current context (wrong) is used without CONTEXT');
  await t.rejects(connect({ kubeconfig: { file, context: 'nope' }, endpoint: null, tls: null }), { message: `kubeconfig ${file}: context "nope" does not exist` });
  await t.rejects(connect({ kubeconfig: { file: path.join(dir, 'missing'), context: '' }, endpoint: null, tls: null }), { message: /missing: no such file/ });
  const badToken = writeKubeconfig(path.join(dir, 'kc-bad'), { server: api.url, token: 'wrong-token', caFile: api.pki!.caFile });
  t.equal((await probe({ kubeconfig: { file: badToken, context: '' }, endpoint: null, tls: null })).status, 401, 'a wrong token is refused by the server');
});

t.test('endpoint: plain http without credentials; https verifies the CA given with tls', async (t) => {
  const plain = await FakeApiServer.start();
  t.teardown(() => plain.stop());
  t.equal((await probe({ ...none, endpoint: plain.url })).status, 200);
  t.equal(plain.requests[0]?.auth, 'none', 'no credentials sent');

  const secure = await FakeApiServer.start({ tls: true, clientCA: true, token: 'unused' });
  t.teardown(() => secure.stop());
  const pki = secure.pki!;
  t.equal((await probe({ ...none, endpoint: secure.url, tls: { cert: pki.clientCertFile, key: pki.clientKeyFile, ca: pki.caFile } })).status, 200);
  t.equal(secure.requests.at(-1)?.auth, 'cert', 'authenticated by the client certificate');
  await t.rejects(probe({ ...none, endpoint: secure.url }), { code: /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/ }, 'without the CA the server certificate is not trusted');
  await t.rejects(connect({ ...none, endpoint: secure.url, tls: { cert: path.join(dir, 'no.crt'), key: pki.clientKeyFile, ca: pki.caFile } }), { message: /no\.crt: no such file/ });
  await t.rejects(connect({ ...none, endpoint: 'ftp://x' }), { message: /unsupported API server URL scheme/ });
});

t.test('in-cluster: environment, service-account token and CA', async (t) => {
  const api = await FakeApiServer.start({ tls: true, token: 'sa-1' });
  t.teardown(() => api.stop());
  await t.rejects(connect(none, {}), { message: 'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined' });
  const root = path.join(dir, 'root');
  const sa = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), [SERVICE_ACCOUNT_ROOT_ENV]: root };
  await t.rejects(connect(none, env), { message: /open .*serviceaccount\/token: no such file or directory/ });
  mkdirSync(sa, { recursive: true });
  writeFileSync(path.join(sa, 'token'), 'sa-1');
  writeFileSync(path.join(sa, 'ca.crt'), api.pki!.caPem);
  const conn = await connect(none, env);
  t.teardown(() => conn.close());
  t.equal(conn.description, `in-cluster (https://127.0.0.1:${api.port})`);
  t.same(await conn.headers(), { Authorization: 'Bearer sa-1' });
  t.equal((await probe(none, env)).status, 200, 'https with the service-account CA and token');
  // Token files often end with a newline; client-go trims it, and so must we (a raw newline is an invalid header).
  writeFileSync(path.join(sa, 'token'), 'sa-1\n');
  t.equal((await probe(none, env)).status, 200, 'a token file with a trailing newline works');
});
