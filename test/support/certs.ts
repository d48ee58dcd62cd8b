/**
 * A throw-away PKI for TLS tests, made with the `openssl` CLI (EC P-256 keys, the fastest to generate): a CA, a
 * server certificate for 127.0.0.1/localhost and a client certificate whose CN is a service-account user name, the
 * way kube-apiserver's x509 authenticator reads it (CN = user, O = groups).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of one test PKI (all paths absolute). */
export interface TestPKI {
  /** The directory holding every file. */
  dir: string;
  /** The CA certificate (PEM file) that signed the server and client certificates. */
  caFile: string;
  /** The CA certificate's PEM text. */
  caPem: string;
  /** Server certificate with SAN IP:127.0.0.1, IP:::1 and DNS:localhost (EKU serverAuth). */
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate, CN {@link CLIENT_USER}, O system:serviceaccounts (EKU clientAuth). */
  clientCertFile: string;
  clientKeyFile: string;
}

/** The user name (certificate CN) of the client certificate. */
export const CLIENT_USER = 'system:serviceaccount:kube-system:clusterdns';

// One PKI per directory per process: generating costs ~50 ms of openssl runs, and tests only need distinct CAs
// when they ask for distinct directories.
const cache = new Map<string, Promise<TestPKI>>();

/**
 * Creates (once per process and `dir`) a CA, a server and a client certificate under `dir` (default: a fresh
 * temporary directory, removed at process exit). Two calls with different `dir`s give unrelated CAs, which is how a
 * test gets a "wrong CA".
 */
export function makeTestPKI(dir?: string): Promise<TestPKI> {
  const key = dir ?? '';
  let pki = cache.get(key);
  if (!pki) {
    pki = Promise.resolve().then(() => generate(dir));
    cache.set(key, pki);
  }
  return pki;
}

function generate(dir: string | undefined): TestPKI {
  let out: string;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    out = dir;
  } else {
    out = mkdtempSync(join(tmpdir(), 'clusterdns-pki-'));
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  }
  const f = (name: string): string => join(out, name);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const newKey = (file: string): void => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
  const serial = (): string => '0x' + randomBytes(8).toString('hex');

  newKey(f('ca.key'));
  writeFileSync(f('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  ssl('req', '-new', '-key', f('ca.key'), '-subj', '/CN=clusterdns-test-ca', '-out', f('ca.csr'));
  ssl('x509', '-req', '-in', f('ca.csr'), '-signkey', f('ca.key'), '-days', '3650', '-set_serial', serial(), '-extfile', f('ca.ext'), '-out', f('ca.crt'));

  const leaf = (name: string, subj: string, ext: string): void => {
    newKey(f(`${name}.key`));
    writeFileSync(f(`${name}.ext`), ext);
    ssl('req', '-new', '-key', f(`${name}.key`), '-subj', subj, '-out', f(`${name}.csr`));
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', serial(), '-days', '3650',
      '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`));
  };
  leaf('server', '/CN=fake-apiserver',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n');
  leaf('client', `/O=system:serviceaccounts/CN=${CLIENT_USER}`,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');

  return {
    dir: out,
    caFile: f('ca.crt'),
    caPem: readFileSync(f('ca.crt'), 'utf8'),
    serverCertFile: f('server.crt'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
  };
}
