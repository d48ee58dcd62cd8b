/**
 * Converts raw Kubernetes API objects (plain JSON, as `kubectl get -o json|yaml` prints them or a watch delivers
 * them) into the slim shapes of lib/kube/types.ts. Like CoreDNS plugin/kubernetes/object, only what DNS needs is kept.
 *
 * Garbage (a missing `metadata.name`, a port that is not a number...) throws an Error naming the object and the
 * field; values DNS can simply do without (an unparsable IP) are dropped instead.
 */
import { canonicalIP } from '../dns/ip.js';
import { EndpointRowsBuilder } from './endpoint-rows.js';
import type { EndpointPort, EndpointSlice, Kind, KindMap, Namespace, Pod, Service, ServicePort } from './types.js';

/** A converted object tagged with its kind. */
export type SlimObject = { [K in Kind]: { kind: K; obj: KindMap[K] } }[Kind];

/** The label that ties an EndpointSlice to its Service (CoreDNS object/endpoint.go indexes slices by it). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The apiVersion each watched kind must have; other versions (e.g. discovery.k8s.io/v1beta1) are ignored. */
export const API_VERSIONS: Readonly<Record<Kind, string>> = {
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Namespace: 'v1',
  Pod: 'v1',
};

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Error context: "Service default/web" once the name is known. */
class Ctx {
  constructor(
    readonly what: string,
    readonly id: string,
  ) {}
  fail(field: string, msg: string): never {
    throw new Error(`${this.what}${this.id ? ' ' + this.id : ''}: ${field} ${msg}`);
  }
  record(v: unknown, field: string): Raw {
    if (v === undefined || v === null) return {};
    if (!isRecord(v)) this.fail(field, `must be an object, got ${show(v)}`);
    return v;
  }
  array(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, `must be a list, got ${show(v)}`);
    return v;
  }
  string(v: unknown, field: string, dflt = ''): string {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string') this.fail(field, `must be a string, got ${show(v)}`);
    return v;
  }
  port(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
      this.fail(field, `must be an integer from 1 to 65535, got ${show(v)}`);
    }
    return v;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** Options for {@link SlimPool}. */
export interface SlimPoolOptions {
  /**
   * Keep endpoints' `targetRefName` (default true). Only `endpoint_pod_names` reads it, and a Pod name is the one
   * string per endpoint nothing else shares (~50 bytes each: 8 MB at 150,000 endpoints), so a source that knows
   * the option is off can leave it ''.
   */
  targetRefNames?: boolean;
}

/**
 * Shares equal strings, label sets and port lists between the slim objects of one load, so a big cluster does not
 * hold a copy per object of what thousands of objects have in common (namespaces, label values, the label sets of a
 * Service's slices, `[http/TCP/8080]`). The shared parts are frozen: slim objects are read-only. A pool only grows,
 * so use one per load (a fixture read, an API list) and drop it afterwards.
 */
export class SlimPool {
  /** False: endpoints' `targetRefName` is left '' (see {@link SlimPoolOptions.targetRefNames}). */
  readonly targetRefNames: boolean;
  readonly #strings = new Map<string, string>();
  readonly #labels = new Map<string, Readonly<Record<string, string>>>();
  readonly #ports = new Map<string, readonly ServicePort[]>();

  constructor(opts: SlimPoolOptions = {}) {
    this.targetRefNames = opts.targetRefNames ?? true;
  }

  /** `s`, or the equal string seen first. */
  str(s: string): string {
    // V8 already shares the short strings JSON.parse produces; a table lookup costs more than it saves for them.
    if (s.length <= 10) return s;
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    this.#strings.set(s, s);
    return s;
  }

  /** A frozen label set equal to `labels` (insertion order kept), shared with equal earlier sets. */
  labels(labels: Record<string, string>, keys: readonly string[]): Readonly<Record<string, string>> {
    if (keys.length === 0) return NO_LABELS;
    let id = '';
    for (const k of keys) id += `${k}\u0000${labels[k]}\u0000`;
    const known = this.#labels.get(id);
    if (known !== undefined) return known;
    Object.freeze(labels);
    this.#labels.set(id, labels);
    return labels;
  }

  /** A frozen port list equal to `ports`, shared with equal earlier lists. */
  ports<P extends ServicePort>(ports: P[]): readonly P[] {
    if (ports.length === 0) return NO_PORTS as readonly P[];
    let id = '';
    for (const p of ports) id += `${p.name}/${p.protocol}/${p.port};`;
    const known = this.#ports.get(id);
    if (known !== undefined) return known as readonly P[];
    for (const p of ports) Object.freeze(p);
    // A copy: the caller's list may have been grown by push and carry spare slots.
    const kept = Object.freeze(ports.slice());
    this.#ports.set(id, kept);
    return kept;
  }
}

// Shared by every object without labels, ports or cluster IPs (and by every headless Service), so those cost nothing.
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_PORTS: readonly ServicePort[] = Object.freeze([]) as readonly ServicePort[];
const NO_STRINGS: readonly string[] = Object.freeze([]) as readonly string[];
const HEADLESS_IPS: readonly string[] = Object.freeze(['None']);

/** What every slim object starts with; built by {@link meta}, then copied field by field into one literal. */
interface Meta {
  namespace: string;
  name: string;
  resourceVersion: string;
  labels: Readonly<Record<string, string>>;
  ctx: Ctx;
}

function meta(raw: unknown, what: Kind, namespaced: boolean, pool: SlimPool | undefined): Meta {
  const top: Ctx = new Ctx(what, '');
  if (!isRecord(raw)) top.fail('object', `must be a mapping, got ${show(raw)}`);
  const md = top.record(raw.metadata, 'metadata');
  const name = top.string(md.name, 'metadata.name');
  if (name === '') top.fail('metadata.name', 'is required');
  // Namespaced objects without a namespace land in `default`, as `kubectl apply` would put them.
  let namespace = namespaced ? top.string(md.namespace, 'metadata.namespace') || 'default' : '';
  if (pool !== undefined) namespace = pool.str(namespace);
  const ctx = new Ctx(what, namespaced ? `${namespace}/${name}` : name);
  // kubectl quotes resourceVersion; a hand-written fixture may not, and a number is as good an opaque version.
  const rv = md.resourceVersion;
  const resourceVersion = typeof rv === 'number' ? String(rv) : ctx.string(rv, 'metadata.resourceVersion');
  const rawLabels = ctx.record(md.labels, 'metadata.labels');
  const keys = Object.keys(rawLabels);
  let labels: Readonly<Record<string, string>> = NO_LABELS;
  if (keys.length > 0) {
    const out: Record<string, string> = {};
    for (const k of keys) {
      const v = rawLabels[k];
      // Hand-written YAML often has `version: 1`; the API would reject it, a fixture reader can just read it as text.
      if (typeof v === 'string') out[k] = pool !== undefined ? pool.str(v) : v;
      else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      else if (v !== null) ctx.fail(`metadata.labels[${JSON.stringify(k)}]`, `must be a string, got ${show(v)}`);
    }
    labels = pool !== undefined ? pool.labels(out, Object.keys(out)) : out;
  }
  return { namespace, name, resourceVersion, labels, ctx };
}

function protocol(ctx: Ctx, v: unknown, field: string): string {
  // The API defaults an omitted protocol to TCP and only accepts upper case; upper-casing forgives hand edits.
  const p = ctx.string(v, field, 'TCP');
  if (p === 'TCP' || p === 'UDP' || p === 'SCTP') return p;
  return p.toUpperCase() || 'TCP';
}

/**
 * Converts a v1 Service. With a `pool`, strings and port lists equal to earlier objects' are shared (see
 * {@link SlimPool}).
 */
export function slimService(raw: unknown, pool?: SlimPool): Service {
  const m = meta(raw, 'Service', true, pool);
  const ctx = m.ctx;
  const spec = ctx.record((raw as Raw).spec, 'spec');
  const type = ctx.string(spec.type, 'spec.type', 'ClusterIP') || 'ClusterIP';

  // CoreDNS object/service.go ToService: spec.clusterIPs, or [spec.clusterIP] when clusterIPs is empty.
  const listed = ctx.array(spec.clusterIPs, 'spec.clusterIPs');
  let texts: string[];
  if (listed.length > 0) texts = listed.map((v, i) => ctx.string(v, `spec.clusterIPs[${i}]`));
  else {
    const one = ctx.string(spec.clusterIP, 'spec.clusterIP');
    texts = one === '' ? [] : [one];
  }
  let clusterIPs: readonly string[];
  if (texts[0] === 'None') {
    // CoreDNS object/service.go Headless: clusterIPs[0] == "None".
    clusterIPs = HEADLESS_IPS;
  } else {
    const ips: string[] = [];
    for (const t of texts) {
      const ip = canonicalIP(t);
      if (ip !== null) ips.push(ip);
    }
    // Exact-size copies: arrays grown by push keep spare slots for as long as the object lives.
    clusterIPs = ips.length === 0 ? NO_STRINGS : ips.length === 1 ? [ips[0]!] : ips.slice();
  }

  let externalName = '';
  if (type === 'ExternalName') {
    externalName = ctx.string(spec.externalName, 'spec.externalName');
    if (externalName.endsWith('.')) externalName = externalName.slice(0, -1);
  }

  const rawPorts = ctx.array(spec.ports, 'spec.ports');
  const list: ServicePort[] = new Array<ServicePort>(rawPorts.length);
  for (let i = 0; i < rawPorts.length; i++) {
    const f = `spec.ports[${i}]`;
    const r = ctx.record(rawPorts[i], f);
    list[i] = portOf(ctx, r, f, pool);
  }
  const ports = pool !== undefined ? pool.ports(list) : list.length === 0 ? NO_PORTS : list;

  return {
    namespace: m.namespace,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    type: pool !== undefined ? pool.str(type) : type,
    clusterIPs,
    headless: clusterIPs[0] === 'None',
    externalName,
    ports,
  };
}

function portOf(ctx: Ctx, r: Raw, f: string, pool: SlimPool | undefined): ServicePort {
  const name = ctx.string(r.name, `${f}.name`);
  return {
    name: pool !== undefined ? pool.str(name) : name,
    protocol: protocol(ctx, r.protocol, `${f}.protocol`),
    port: ctx.port(r.port, `${f}.port`),
  };
}

/**
 * Converts a discovery.k8s.io/v1 EndpointSlice. Endpoints whose addresses are all unusable (not IPs, e.g. FQDN
 * slices) are dropped, and so are ports without a port number (the API's "all ports"), which DNS cannot publish.
 * With a `pool`, strings, label sets and port lists equal to earlier objects' are shared (see {@link SlimPool}).
 */
export function slimEndpointSlice(raw: unknown, pool?: SlimPool): EndpointSlice {
  const m = meta(raw, 'EndpointSlice', true, pool);
  const ctx = m.ctx;
  const r = raw as Raw;
  let addressType = ctx.string(r.addressType, 'addressType');

  const list: EndpointPort[] = [];
  const rawPorts = ctx.array(r.ports, 'ports');
  for (let i = 0; i < rawPorts.length; i++) {
    const f = `ports[${i}]`;
    const pr = ctx.record(rawPorts[i], f);
    if (pr.port === undefined || pr.port === null) continue;
    list.push(portOf(ctx, pr, f, pool));
  }
  const ports = pool !== undefined ? pool.ports(list) : list.length === 0 ? NO_PORTS : list.slice();

  const rawEndpoints = ctx.array(r.endpoints, 'endpoints');
  const builder = new EndpointRowsBuilder(rawEndpoints.length);
  for (let i = 0; i < rawEndpoints.length; i++) addEndpoint(ctx, rawEndpoints[i], i, pool, builder);
  const rows = builder.build();

  // addressType is required by the API; a hand-written fixture may omit it, so infer it from the first address.
  if (addressType === '') addressType = rows.addresses[0]?.includes(':') ? 'IPv6' : 'IPv4';

  return {
    namespace: m.namespace,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    serviceName: m.labels[SERVICE_NAME_LABEL] ?? '',
    addressType,
    lastChangeTriggerTime: triggerTime(r),
    ports,
    addresses: rows.addresses,
    notReady: rows.notReady,
    hostnames: rows.hostnames,
    targetRefNames: rows.targetRefNames,
  };
}

// Per endpoint, a field's name (`endpoints[3].nodeName`) is only built when the field is wrong: building ten of
// them for each of 150,000 endpoints cost more than the rest of the conversion.
function field(i: number, name: string): string {
  return `endpoints[${i}]${name}`;
}

function str(ctx: Ctx, v: unknown, i: number, name: string): string {
  return typeof v === 'string' ? v : ctx.string(v, field(i, name));
}

function rec(ctx: Ctx, v: unknown, i: number, name: string): Raw {
  return isRecord(v) ? v : ctx.record(v, field(i, name));
}

// Adds endpoint i's rows: one per usable address (duplicates within the endpoint merged); none when it has none.
function addEndpoint(ctx: Ctx, e: unknown, i: number, pool: SlimPool | undefined, rows: EndpointRowsBuilder): void {
  const er = rec(ctx, e, i, '');
  const rawAddrs = Array.isArray(er.addresses) ? (er.addresses as unknown[]) : ctx.array(er.addresses, field(i, '.addresses'));
  let one: string | null = null;
  let several: string[] | null = null;
  if (rawAddrs.length === 1) {
    // The usual case: one address, no deduplication needed.
    one = canonicalIP(str(ctx, rawAddrs[0], i, '.addresses[0]'));
    if (one === null) return;
  } else {
    several = [];
    for (let j = 0; j < rawAddrs.length; j++) {
      const ip = canonicalIP(str(ctx, rawAddrs[j], i, `.addresses[${j}]`));
      if (ip !== null && !several.includes(ip)) several.push(ip);
    }
    if (several.length === 0) return;
  }
  const cond = rec(ctx, er.conditions, i, '.conditions');
  // CoreDNS object/endpoint.go: only `ready` is consulted, and a missing/null ready counts as ready.
  const ready = cond.ready !== false;
  const tr = rec(ctx, er.targetRef, i, '.targetRef');
  const trKind = str(ctx, tr.kind, i, '.targetRef.kind');
  const trName = str(ctx, tr.name, i, '.targetRef.name');
  // CoreDNS object/endpoint.go keeps targetRef.name only when shorter than 64 characters (a DNS label).
  const keep = (trKind === '' || trKind === 'Pod') && trName.length < 64 && (pool === undefined || pool.targetRefNames);
  const hostname = str(ctx, er.hostname, i, '.hostname');
  // Not kept (no answer depends on them), but a fixture with a malformed one is still a broken object.
  str(ctx, er.nodeName, i, '.nodeName');
  str(ctx, er.zone, i, '.zone');
  const podName = keep ? trName : '';
  if (one !== null) rows.add(one, ready, hostname, podName);
  else for (const ip of several!) rows.add(ip, ready, hostname, podName);
}

/** The EndpointSlice controller's `last-change-trigger-time` annotation (RFC 3339), in ms; 0 when absent or bad. */
export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

function triggerTime(r: Raw): number {
  const md = r.metadata as Raw | undefined;
  const ann = md?.annotations as Raw | undefined;
  const v = ann?.[LAST_CHANGE_TRIGGER_TIME];
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** Converts a v1 Namespace (cluster-scoped: `namespace` is always ''). */
export function slimNamespace(raw: unknown, pool?: SlimPool): Namespace {
  const m = meta(raw, 'Namespace', false, pool);
  return { namespace: m.namespace, name: m.name, resourceVersion: m.resourceVersion, labels: m.labels };
}

/** Converts a v1 Pod. Only the primary `status.podIP` is kept, as in CoreDNS object/pod.go ToPod. */
export function slimPod(raw: unknown, pool?: SlimPool): Pod {
  const m = meta(raw, 'Pod', true, pool);
  const ctx = m.ctx;
  const r = raw as Raw;
  const status = ctx.record(r.status, 'status');
  const md = r.metadata as Raw;
  return {
    namespace: m.namespace,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    podIP: canonicalIP(ctx.string(status.podIP, 'status.podIP')) ?? '',
    phase: ctx.string(status.phase, 'status.phase'),
    terminating: md.deletionTimestamp !== undefined && md.deletionTimestamp !== null,
  };
}

const CONVERTERS: { [K in Kind]: (raw: unknown, pool?: SlimPool) => KindMap[K] } = {
  Service: slimService,
  EndpointSlice: slimEndpointSlice,
  Namespace: slimNamespace,
  Pod: slimPod,
};

/**
 * Converts any raw object: Services, EndpointSlices, Namespaces and Pods of the expected apiVersion are converted;
 * every other kind or version returns null. `pool` as for {@link slimService}.
 * @throws Error when the object has no `kind`, or a watched kind is malformed.
 */
export function slimObject(raw: unknown, pool?: SlimPool): SlimObject | null {
  if (!isRecord(raw)) throw new Error(`object must be a mapping, got ${show(raw)}`);
  const kind = raw.kind;
  if (typeof kind !== 'string' || kind === '') {
    throw new Error(`object has no kind (apiVersion ${show(raw.apiVersion)}, metadata.name ${show(nameOf(raw))})`);
  }
  if (!Object.hasOwn(CONVERTERS, kind)) return null;
  const k = kind as Kind;
  if (raw.apiVersion !== API_VERSIONS[k]) return null;
  return { kind: k, obj: CONVERTERS[k](raw, pool) } as SlimObject;
}

function nameOf(raw: Raw): unknown {
  return isRecord(raw.metadata) ? raw.metadata.name : undefined;
}
