/**
 * A kubernetes handler over an in-memory cluster, for tests: the real parse() for the options, the real
 * ClusterModel/ClusterZone/KubernetesHandler, and a query helper that returns the reply decoded from the bytes the
 * handler wrote, as sorted zone-file lines (CoreDNS test.SortAndCheck style).
 */
import type { Directive } from '../../lib/corefile/types.js';
import { FLAG, RCODE, rcodeName, typeFromName } from '../../lib/dns/constants.js';
import type { Message } from '../../lib/dns/message.js';
import { rcodeOf } from '../../lib/dns/message.js';
import { parseRRText, rrToText } from '../../lib/dns/text.js';
import { decodeMessage } from '../../lib/dns/wire.js';
import type { ClusterModel } from '../../lib/kube/model.js';
import type { Snapshot } from '../../lib/kube/types.js';
import type { Handler } from '../../lib/plugin.js';
import { KubernetesHandler } from '../../lib/plugins/kubernetes/handler.js';
import { parse } from '../../lib/plugins/kubernetes/setup.js';
import { handlerOptionsOf, zoneOptionsOf } from '../../lib/plugins/kubernetes/index.js';
import { ClusterZone } from '../../lib/zone/cluster-zone.js';
import { modelOf, standardCluster } from './k8s-objects.js';
import { dir, makeQuery, NextRecorder, testEnv, type QueryOpts } from './query.js';

/** The fixed clock of harness zones: every SOA serial is 1700000000. */
export const NOW_MS = 1_700_000_000_000;
export const SERIAL = 1_700_000_000;

export interface K8sSetup {
  /** `kubernetes` arguments (zones); default `cluster.local`. */
  args?: string[];
  /** Lines of the `kubernetes { }` block. */
  options?: Directive[];
  /** The cluster; default {@link standardCluster}. */
  cluster?: Partial<Snapshot>;
  /** Whether the source counts as synced (default true). */
  synced?: boolean;
  /** NS local addresses (default the kube-dns endpoint 10.244.0.10). */
  localIPs?: string[];
  /** Answers env.resolve (ExternalName targets outside the zone). */
  resolver?: (name: string, type: number) => Message | Promise<Message>;
  /** The next handler (default a NextRecorder). */
  next?: Handler | null;
}

export interface K8sRig {
  handler: KubernetesHandler;
  zone: ClusterZone;
  model: ClusterModel;
  next: NextRecorder;
  resolved: { name: string; type: number }[];
  /** Flip the synced flag. */
  synced: { value: boolean };
}

/** Builds a handler over an in-memory model exactly as build() wires it, minus the source. */
export function k8s(setup: K8sSetup = {}): K8sRig {
  const d = dir('kubernetes', setup.args ?? ['cluster.local'], setup.options ?? null);
  const cfg = parse(d, { zones: ['.'], keys: [] });
  const model = modelOf(setup.cluster ?? standardCluster());
  const zone = new ClusterZone(model, { ...zoneOptionsOf(cfg), now: () => NOW_MS });
  const resolved: { name: string; type: number }[] = [];
  const env = testEnv(cfg.zones, async (name, type) => {
    resolved.push({ name, type });
    if (setup.resolver) return setup.resolver(name, type);
    return makeQuery(name, type).q.newReply(RCODE.NXDOMAIN);
  });
  const next = new NextRecorder();
  const synced = { value: setup.synced ?? true };
  const handler = new KubernetesHandler(
    handlerOptionsOf(cfg, setup.localIPs ?? ['10.244.0.10']),
    zone,
    setup.next === undefined ? next : setup.next,
    env,
    () => synced.value,
  );
  return { handler, zone, model, next, resolved, synced };
}

/** A reply as tests compare it. */
export interface Reply {
  /** Rcode the handler returned. */
  returned: number;
  /** Whether the handler wrote a reply (false: it left the error to the server, or passed on). */
  written: boolean;
  writtenBy: string;
  /** Rcode name of the written reply ('' when nothing was written). */
  rcode: string;
  aa: boolean;
  tc: boolean;
  answer: string[];
  authority: string[];
  additional: string[];
  msg: Message | undefined;
}

/** Zone-file lines normalised through the record parser and printer, sorted. */
export function lines(rrs: readonly string[]): string[] {
  return rrs.map((l) => rrToText(parseRRText(l))).sort();
}

/** Sends `name`/`type` ('A', 'SRV', ... or a number) through `h` and decodes what was written. */
export async function ask(h: Handler, name: string, type: string | number, o: QueryOpts = {}): Promise<Reply> {
  const t = typeof type === 'number' ? type : typeFromName(type)!;
  const { q, sink } = makeQuery(name, t, o);
  const returned = await h.serve(q);
  if (!q.written || sink.wire === undefined) {
    return { returned, written: false, writtenBy: '', rcode: '', aa: false, tc: false, answer: [], authority: [], additional: [], msg: undefined };
  }
  const msg = decodeMessage(sink.wire);
  return {
    returned,
    written: true,
    writtenBy: q.writtenBy,
    rcode: rcodeName(rcodeOf(msg)),
    aa: (msg.flags & FLAG.AA) !== 0,
    tc: (msg.flags & FLAG.TC) !== 0,
    answer: msg.answer.map(rrToText).sort(),
    authority: msg.authority.map(rrToText).sort(),
    additional: msg.additional.map(rrToText).sort(),
    msg,
  };
}

/** The SOA line a negative answer carries for `zone` spelled as given, with the harness serial. */
export function soa(zone = 'cluster.local.', ttl = 5): string {
  const z = zone === '.' ? '' : zone;
  return `${zone} ${Math.min(ttl, 300)} IN SOA ns.dns.${z} hostmaster.${z} ${SERIAL} 7200 1800 86400 ${ttl}`;
}
