/**
 * Converts raw Kubernetes API objects (plain JSON, as `kubectl get -o json|yaml` prints them or a watch delivers
 * them) into the slim shapes of lib/kube/types.ts. Like CoreDNS plugin/kubernetes/object, only what DNS needs is kept.
 *
 * Garbage (a missing `metadata.name`, a port that is not a number...) throws an Error naming the object and the
 * field; values DNS can simply do without (an unparsable IP) are dropped instead.
 */
import { canonicalIP } from '../dns/ip.js';
import type {
  Endpoint,
  EndpointPort,
  EndpointSlice,
  Kind,
  KindMap,
  Namespace,
  ObjectMeta,
  Pod,
  Service,
  ServicePort,
} from './types.js';

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

function meta(raw: unknown, what: Kind, namespaced: boolean): { m: ObjectMeta; ctx: Ctx } {
  const top: Ctx = new Ctx(what, '');
  if (!isRecord(raw)) top.fail('object', `must be a mapping, got ${show(raw)}`);
  const md = top.record(raw.metadata, 'metadata');
  const name = top.string(md.name, 'metadata.name');
  if (name === '') top.fail('metadata.name', 'is required');
  // Namespaced objects without a namespace land in `default`, as `kubectl apply` would put them.
  const namespace = namespaced ? top.string(md.namespace, 'metadata.namespace') || 'default' : '';
  const ctx = new Ctx(what, namespaced ? `${namespace}/${name}` : name);
  // kubectl quotes resourceVersion; a hand-written fixture may not, and a number is as good an opaque version.
  const rv = md.resourceVersion;
  const resourceVersion = typeof rv === 'number' ? String(rv) : ctx.string(rv, 'metadata.resourceVersion');
  const rawLabels = ctx.record(md.labels, 'metadata.labels');
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawLabels)) {
    // Hand-written YAML often has `version: 1`; the API would reject it, a fixture reader can just read it as text.
    if (typeof v === 'string') labels[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') labels[k] = String(v);
    else if (v !== null) ctx.fail(`metadata.labels[${JSON.stringify(k)}]`, `must be a string, got ${show(v)}`);
  }
  return { m: { namespace, name, resourceVersion, labels }, ctx };
}

function protocol(ctx: Ctx, v: unknown, field: string): string {
  // The API defaults an omitted protocol to TCP and only accepts upper case; upper-casing forgives hand edits.
  return ctx.string(v, field, 'TCP').toUpperCase() || 'TCP';
}

/** Converts a v1 Service. */
export function slimService(raw: unknown): Service {
  const { m, ctx } = meta(raw, 'Service', true);
  const spec = ctx.record((raw as Raw).spec, 'spec');
  const type = ctx.string(spec.type, 'spec.type', 'ClusterIP') || 'ClusterIP';

  // CoreDNS object/service.go ToService: spec.clusterIPs, or [spec.clusterIP] when clusterIPs is empty.
  let texts = ctx.array(spec.clusterIPs, 'spec.clusterIPs').map((v, i) => ctx.string(v, `spec.clusterIPs[${i}]`));
  if (texts.length === 0) {
    const one = ctx.string(spec.clusterIP, 'spec.clusterIP');
    texts = one === '' ? [] : [one];
  }
  const clusterIPs: string[] = [];
  if (texts[0] === 'None') {
    // CoreDNS object/service.go Headless: clusterIPs[0] == "None".
    clusterIPs.push('None');
  } else {
    for (const t of texts) {
      const ip = canonicalIP(t);
      if (ip !== null) clusterIPs.push(ip);
    }
  }

  let externalName = '';
  if (type === 'ExternalName') {
    externalName = ctx.string(spec.externalName, 'spec.externalName');
    if (externalName.endsWith('.')) externalName = externalName.slice(0, -1);
  }

  const ports: ServicePort[] = ctx.array(spec.ports, 'spec.ports').map((p, i) => {
    const f = `spec.ports[${i}]`;
    const r = ctx.record(p, f);
    return {
      name: ctx.string(r.name, `${f}.name`),
      protocol: protocol(ctx, r.protocol, `${f}.protocol`),
      port: ctx.port(r.port, `${f}.port`),
    };
  });

  return { ...m, type, clusterIPs, headless: clusterIPs[0] === 'None', externalName, ports };
}

/**
 * Converts a discovery.k8s.io/v1 EndpointSlice. Endpoints whose addresses are all unusable (not IPs, e.g. FQDN
 * slices) are dropped, and so are ports without a port number (the API's "all ports"), which DNS cannot publish.
 */
export function slimEndpointSlice(raw: unknown): EndpointSlice {
  const { m, ctx } = meta(raw, 'EndpointSlice', true);
  const r = raw as Raw;
  let addressType = ctx.string(r.addressType, 'addressType');

  const ports: EndpointPort[] = [];
  ctx.array(r.ports, 'ports').forEach((p, i) => {
    const f = `ports[${i}]`;
    const pr = ctx.record(p, f);
    if (pr.port === undefined || pr.port === null) return;
    ports.push({
      name: ctx.string(pr.name, `${f}.name`),
      protocol: protocol(ctx, pr.protocol, `${f}.protocol`),
      port: ctx.port(pr.port, `${f}.port`),
    });
  });

  const endpoints: Endpoint[] = [];
  ctx.array(r.endpoints, 'endpoints').forEach((e, i) => {
    const f = `endpoints[${i}]`;
    const er = ctx.record(e, f);
    const addresses: string[] = [];
    ctx.array(er.addresses, `${f}.addresses`).forEach((a, j) => {
      const ip = canonicalIP(ctx.string(a, `${f}.addresses[${j}]`));
      if (ip !== null && !addresses.includes(ip)) addresses.push(ip);
    });
    if (addresses.length === 0) return;
    const cond = ctx.record(er.conditions, `${f}.conditions`);
    // CoreDNS object/endpoint.go: only `ready` is consulted, and a missing/null ready counts as ready.
    const ready = cond.ready !== false;
    const tr = ctx.record(er.targetRef, `${f}.targetRef`);
    const trKind = ctx.string(tr.kind, `${f}.targetRef.kind`);
    const trName = ctx.string(tr.name, `${f}.targetRef.name`);
    // CoreDNS object/endpoint.go keeps targetRef.name only when shorter than 64 characters (a DNS label).
    const targetRefName = (trKind === '' || trKind === 'Pod') && trName.length < 64 ? trName : '';
    endpoints.push({
      addresses,
      ready,
      hostname: ctx.string(er.hostname, `${f}.hostname`),
      targetRefName,
      nodeName: ctx.string(er.nodeName, `${f}.nodeName`),
      zone: ctx.string(er.zone, `${f}.zone`),
    });
  });

  // addressType is required by the API; a hand-written fixture may omit it, so infer it from the first address.
  if (addressType === '') addressType = endpoints[0]?.addresses[0]?.includes(':') ? 'IPv6' : 'IPv4';

  return { ...m, serviceName: m.labels[SERVICE_NAME_LABEL] ?? '', addressType, ports, endpoints, lastChangeTriggerTime: triggerTime(r) };
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
export function slimNamespace(raw: unknown): Namespace {
  return meta(raw, 'Namespace', false).m;
}

/** Converts a v1 Pod. Only the primary `status.podIP` is kept, as in CoreDNS object/pod.go ToPod. */
export function slimPod(raw: unknown): Pod {
  const { m, ctx } = meta(raw, 'Pod', true);
  const r = raw as Raw;
  const status = ctx.record(r.status, 'status');
  const md = r.metadata as Raw;
  return {
    ...m,
    podIP: canonicalIP(ctx.string(status.podIP, 'status.podIP')) ?? '',
    phase: ctx.string(status.phase, 'status.phase'),
    terminating: md.deletionTimestamp !== undefined && md.deletionTimestamp !== null,
  };
}

const CONVERTERS: { [K in Kind]: (raw: unknown) => KindMap[K] } = {
  Service: slimService,
  EndpointSlice: slimEndpointSlice,
  Namespace: slimNamespace,
  Pod: slimPod,
};

/**
 * Converts any raw object: Services, EndpointSlices, Namespaces and Pods of the expected apiVersion are converted;
 * every other kind or version returns null.
 * @throws Error when the object has no `kind`, or a watched kind is malformed.
 */
export function slimObject(raw: unknown): SlimObject | null {
  if (!isRecord(raw)) throw new Error(`object must be a mapping, got ${show(raw)}`);
  const kind = raw.kind;
  if (typeof kind !== 'string' || kind === '') {
    throw new Error(`object has no kind (apiVersion ${show(raw.apiVersion)}, metadata.name ${show(nameOf(raw))})`);
  }
  if (!Object.hasOwn(CONVERTERS, kind)) return null;
  const k = kind as Kind;
  if (raw.apiVersion !== API_VERSIONS[k]) return null;
  return { kind: k, obj: CONVERTERS[k](raw) } as SlimObject;
}

function nameOf(raw: Raw): unknown {
  return isRecord(raw.metadata) ? raw.metadata.name : undefined;
}
