// The UDP transport (lib/server/udp.ts): replies reach IPv4 and IPv6 clients of a dual-stack socket, on the fast
// path and the general path, and the socket's lookup hands IP literals back at once without losing hostnames.
import t from 'tap';
import dnsPacket from 'dns-packet';
import { literalLookup } from '../../lib/server/udp.js';
import { buildQuery, sendUdp } from '../support/client.js';
import { DEMO_DIR } from '../support/e2e-cluster.js';
import { startServer, type Started } from '../support/server.js';

t.test('literalLookup answers IP literals synchronously with their family', async (t) => {
  for (const [address, family] of [
    ['127.0.0.1', 4],
    ['10.96.0.10', 4],
    ['::1', 6],
    ['::ffff:127.0.0.1', 6],
    ['fd00::53', 6],
  ] as const) {
    let got: [string, number] | undefined;
    literalLookup(address, 4, (err, a, f) => {
      t.equal(err, null);
      got = [a, f];
    });
    t.same(got, [address, family], `${address} answered before literalLookup returned`);
  }
});

t.test('literalLookup resolves anything else through dns.lookup (asynchronously)', async (t) => {
  let sync = true;
  const got = await new Promise<[NodeJS.ErrnoException | null, string, number]>((resolve) => {
    literalLookup('localhost', 4, (err, a, f) => resolve([err, a, f]));
    sync = false;
  });
  t.equal(sync, false, 'the callback came after the call returned');
  t.equal(got[0], null);
  t.equal(got[1], '127.0.0.1');
  t.equal(got[2], 4);
  const failed = await new Promise<NodeJS.ErrnoException | null>((resolve) => literalLookup('no-such-host.invalid', 4, (err) => resolve(err)));
  t.ok(failed, 'a name that does not resolve is an error');
});

/** Ask `name` over UDP to `host` (a udp4 or udp6 client socket to match); the decoded reply, or null after 1.5 s. */
async function askFrom(host: string, port: number, name: string, type: 'A' | 'TXT', id: number): Promise<dnsPacket.DecodedPacket | null> {
  const raw = await sendUdp(port, buildQuery(name, type, { id }), 1500, host);
  return raw === null ? null : dnsPacket.decode(raw);
}

let srv: Started;
t.before(async () => {
  // No bind: one dual-stack socket, so IPv4 clients are reported (and answered) as ::ffff: addresses.
  srv = await startServer(`.:0 {\n  kubernetes cluster.local {\n    fixture ${DEMO_DIR}\n  }\n  whoami\n}\n`, { level: 'silent' });
});
t.teardown(() => srv.stop());

t.test('a dual-stack socket answers IPv4 and IPv6 clients, replayed and general-path replies alike', async (t) => {
  for (const host of ['127.0.0.1', '::1']) {
    // Three askings of a zone name: the first goes through the chain and is memoized, the next ones are replayed.
    for (let i = 1; i <= 3; i++) {
      const r = await askFrom(host, srv.port, 'kubernetes.default.svc.cluster.local', 'A', 100 + i);
      t.ok(r, `${host}: reply ${i}`);
      t.equal(r?.id, 100 + i, `${host}: ID ${i} patched`);
      t.same(r?.answers?.map((a) => a.data), ['10.96.0.1'], `${host}: answer ${i}`);
    }
    // whoami writes per query (never memoized): the general path's send, with the client's own address in it.
    const w = await askFrom(host, srv.port, 'who.example', 'A', 7);
    t.ok(w, `${host}: whoami reply`);
    const addresses = (w?.additionals ?? []).filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => String(a.data));
    t.ok(addresses.includes(host), `${host}: whoami saw ${addresses.join(', ')}`);
  }
});
