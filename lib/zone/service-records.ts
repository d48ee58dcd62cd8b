/**
 * Everything one Service name answers, derived once when its Service or one of its EndpointSlices changes, so a
 * query only reads: the endpoint table (ready addresses with their endpoint names), the SRV answer set for the bare
 * name and for each `_port._proto`, and the addresses each of those names returns. Names are kept relative to the
 * cluster zone (`web.default.svc.`): the zone suffix is appended at query time in the query's spelling.
 *
 * Behaviour follows CoreDNS plugin/kubernetes/kubernetes.go findServices and plugin/backend_lookup.go SRV.
 */
import { canonicalIP } from '../dns/ip.js';
import { validName } from '../dns/name.js';
import { dashedIP, ipFromDashed } from '../dns/reverse.js';
import { hostnameAt, readyRowCount, targetRefNameAt } from '../kube/endpoint-rows.js';
import type { EndpointSlice, Service } from '../kube/types.js';
import { sameItems } from '../util/arrays.js';
import type { SharedArrays } from './shared-arrays.js';

/** What a Service name is, for lookups. */
export const SERVICE_KIND = {
  /** No visible Service object (only EndpointSlices labelled for the name): the name does not exist. */
  NONE: 0,
  /** ClusterIP, NodePort or LoadBalancer: answers with the cluster IPs. */
  CLUSTER_IP: 1,
  /** `clusterIPs[0] == None`: answers with the ready endpoint addresses. */
  HEADLESS: 2,
  /** ExternalName with a name target: answers with a CNAME. */
  EXTERNAL: 3,
  /** ExternalName whose target parses as an IP (or is no usable name): CoreDNS skips such a service. */
  IGNORED: 4,
} as const;

/** One of {@link SERVICE_KIND}. */
export type ServiceKind = (typeof SERVICE_KIND)[keyof typeof SERVICE_KIND];

/**
 * One SRV answer (the bare service name, one `_port._proto`, or one endpoint name), plus what an address query for
 * the same name returns. Rows index the owning {@link ServiceRecords}' endpoint table.
 */
export interface SrvSet {
  /** ClusterIP set: every SRV targets the service name, additional records and addresses are the cluster IPs. */
  readonly cluster: boolean;
  /**
   * Number of (address × port) candidates before deduplication, ports without a number (CoreDNS's -1 sentinel for
   * "no ports") included. Zero only for a ClusterIP service without cluster IPs (NODATA rather than NXDOMAIN).
   */
  readonly candidates: number;
  /** SRV weight: floor(100 / candidates), at least 1 (CoreDNS plugin/backend_lookup.go SRV). */
  readonly weight: number;
  /** SRV records in answer order: the row whose endpoint name is the target (-1: the service name) and the port. */
  readonly srvRows: readonly number[];
  readonly srvPorts: readonly number[];
  /** Headless: additional address records, rows deduplicated by (endpoint name, IP). Empty for a cluster set. */
  readonly extraRows: readonly number[];
  /** Headless: rows a non-SRV query for this name answers with, deduplicated by IP. Empty for a cluster set. */
  readonly addrRows: readonly number[];
}

/** Options that change derived records. */
export interface RecordOptions {
  /** `endpoint_pod_names`: an endpoint without hostname is named after its target Pod. */
  readonly endpointPodNames: boolean;
  /** Where equal derived arrays and sets are shared between services (the zone's); without it each has its own. */
  readonly shared?: SharedArrays;
}

// CoreDNS object/service.go and object/endpoint.go put one port -1 where an object has no ports, so the bare name
// still yields address entries but no SRV.
const SENTINEL_PORT = { name: '', protocol: '', port: -1 } as const;
const SENTINEL_PORTS: readonly PortLike[] = [SENTINEL_PORT];
const NO_ROWS: readonly never[] = [];
const NO_SLICES: readonly EndpointSlice[] = Object.freeze([]) as readonly EndpointSlice[];

interface PortLike {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
}

// CoreDNS kubernetes.go matchPortAndProtocol: an empty query part matches anything; otherwise case-insensitive.
function portMatches(qPort: string, qProto: string, p: PortLike): boolean {
  if (qPort !== '' && qPort !== lower(p.name)) return false;
  return qProto === '' || qProto === lower(p.protocol);
}

// Protocols as the API spells them, lower-cased once, so every port set shares these strings.
const PROTOCOLS: ReadonlyMap<string, string> = new Map([
  ['TCP', 'tcp'],
  ['UDP', 'udp'],
  ['SCTP', 'sctp'],
]);

function lower(s: string): string {
  const known = PROTOCOLS.get(s);
  if (known !== undefined) return known;
  const l = s.toLowerCase();
  // Keep the original string when nothing changed so the model and the zone share it.
  return l === s ? s : l;
}

// Arrays built with push keep growth slack (at least 17 slots); records live long, so keep exact copies.
function exact<T>(a: T[]): readonly T[] {
  return a.length === 0 ? NO_ROWS : a.slice();
}

function floorWeight(candidates: number): number {
  return candidates === 0 ? 100 : Math.max(1, Math.floor(100 / candidates));
}

/**
 * The stored name of one endpoint address (CoreDNS kubernetes.go endpointHostname): its hostname, else (with
 * `endpoint_pod_names`) the target Pod name, lower-cased since lookups compare case-insensitively; '' when the
 * name is the dashed IP, which is derived when needed ({@link ServiceRecords.nameAt}) instead of being stored.
 */
export function storedEndpointName(hostname: string, targetRefName: string, podNames: boolean): string {
  if (hostname !== '') return lower(hostname);
  // The slim object already drops targetRef names of 64 characters or more (CoreDNS object/endpoint.go).
  if (podNames && targetRefName !== '') return lower(targetRefName);
  return '';
}

/**
 * The IP address a query label names as a dashed endpoint name (`10-0-0-1`, `2001-db8--0`), or null when the label
 * is not exactly the dashed form of an address. Computed once per query, then compared with the rows' addresses.
 */
export function dashedLabelIP(label: string): string | null {
  const ip = ipFromDashed(label);
  return ip !== null && dashedIP(ip) === label ? ip : null;
}

/** The records of one `name.namespace` key: the Service (if visible), its EndpointSlices and what they derive. */
export class ServiceRecords {
  /** `name.namespace`, the index key CoreDNS uses for services and endpoints. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  /** The service name relative to the zone, with a trailing dot: `web.default.svc.`. */
  readonly rel: string;

  /** The visible Service object (kept so an answer can name the object and resourceVersion behind it). */
  svc: Service | undefined = undefined;
  /**
   * The visible EndpointSlices labelled for this service, in arrival order. Replaced, never modified in place: the
   * zone swaps in an exact-size copy on each change.
   */
  slices: readonly EndpointSlice[] = NO_SLICES;

  kind: ServiceKind = SERVICE_KIND.NONE;
  /** ExternalName target, absolute and spelled as in the spec; '' unless kind is EXTERNAL. */
  externalTarget = '';
  /** The same, lower-cased, for comparisons. */
  externalTargetLower = '';

  /**
   * The endpoint table: one row per ready address of every slice, in slice order, not deduplicated (CoreDNS
   * concatenates slices and counts every row in SRV weights). Parallel arrays keep this compact. `rowName` holds
   * the hostname or Pod name, '' where the name is the dashed IP (see {@link nameAt}). When the rows are exactly
   * one slice's (one slice, every endpoint ready), `rowIP` is that slice's address column and `rowName` may be its
   * hostname column: the model's arrays, shared, never modified.
   */
  rowName: readonly string[] = NO_ROWS;
  rowIP: readonly string[] = NO_ROWS;
  /** Index into {@link slices} of each row. */
  rowSlice: readonly number[] = NO_ROWS;

  /** The bare name's set; null when the name answers nothing (no Service, ExternalName, headless without rows). */
  srv: SrvSet | null = null;
  /**
   * Sets of the named `_port._proto` pairs that exist, as parallel arrays (lower-case port name, protocol, set);
   * a service has few ports, so a scan beats a Map per service.
   */
  portNames: readonly string[] = NO_ROWS;
  portProtos: readonly string[] = NO_ROWS;
  portSets: readonly SrvSet[] = NO_ROWS;

  /** `key` is `name.namespace`, passed in so the zone's index and the entry share one string. */
  constructor(name: string, namespace: string, key = [name, namespace].join('.')) {
    this.name = name;
    this.namespace = namespace;
    this.key = key;
    // join() builds a flat string (a template literal this long would be a cons string holding two more).
    this.rel = [key, 'svc', ''].join('.');
  }

  /** Number of ready endpoint addresses over all slices (CoreDNS's count for `ignore empty_service`). */
  get readyCount(): number {
    return this.rowIP.length;
  }

  /** True when neither a Service nor a slice is left: the entry can be dropped. */
  get empty(): boolean {
    return this.svc === undefined && this.slices.length === 0;
  }

  /** The cluster IPs of a ClusterIP service; empty otherwise. */
  get clusterIPs(): readonly string[] {
    return this.kind === SERVICE_KIND.CLUSTER_IP ? this.svc!.clusterIPs : NO_ROWS;
  }

  /** The endpoint name of row `r`: its stored name, or the dashed IP. */
  nameAt(r: number): string {
    const n = this.rowName[r]!;
    return n !== '' ? n : dashedIP(this.rowIP[r]!);
  }

  /**
   * Whether row `r` is named `label` (lower case); `labelIP` is {@link dashedLabelIP} of the label, passed in so
   * it is computed once per query.
   */
  rowMatches(r: number, label: string, labelIP: string | null): boolean {
    const n = this.rowName[r]!;
    return n !== '' ? n === label : labelIP !== null && this.rowIP[r] === labelIP;
  }

  /** Re-derives everything from {@link svc} and {@link slices}. */
  rebuild(opts: RecordOptions): void {
    this.#classify();
    this.#buildRows(opts.endpointPodNames, opts.shared);
    this.srv = null;
    this.portNames = NO_ROWS;
    this.portProtos = NO_ROWS;
    this.portSets = NO_ROWS;
    if (this.kind === SERVICE_KIND.CLUSTER_IP || this.kind === SERVICE_KIND.HEADLESS) this.#buildSets(opts.shared);
  }

  /**
   * The set for `_port._proto` (lower case, '' matching anything, as CoreDNS does after stripping a bare `_`), or
   * null when no port matches (NXDOMAIN). Exact pairs are precomputed; partly-empty ones are built on demand.
   */
  portSet(port: string, proto: string): SrvSet | null {
    if (port === '' && proto === '') return this.srv;
    if (port !== '' && proto !== '') {
      const names = this.portNames;
      for (let i = 0; i < names.length; i++) {
        if (names[i] === port && this.portProtos[i] === proto) return this.portSets[i]!;
      }
      return null;
    }
    // Built per query, so not shared: the shared tables are for what the zone keeps.
    if (this.kind === SERVICE_KIND.CLUSTER_IP) return this.#clusterSet(port, proto, undefined);
    if (this.kind === SERVICE_KIND.HEADLESS) return this.#rowSet(port, proto, null, null, undefined);
    return null;
  }

  /**
   * The set of endpoint name `label` (lower case; `labelIP` as for {@link rowMatches}) under this service, for
   * ClusterIP and headless services alike (CoreDNS answers `<ep>.<svc>` for both), or null when no ready endpoint
   * has that name. Built per query.
   */
  endpointSet(label: string, labelIP: string | null): SrvSet | null {
    if (this.kind !== SERVICE_KIND.CLUSTER_IP && this.kind !== SERVICE_KIND.HEADLESS) return null;
    return this.#rowSet('', '', label, labelIP, undefined);
  }

  /** True when some ready endpoint is named `label` (`labelIP` as for {@link rowMatches}). */
  hasEndpoint(label: string, labelIP: string | null): boolean {
    const n = this.rowName.length;
    for (let r = 0; r < n; r++) if (this.rowMatches(r, label, labelIP)) return true;
    return false;
  }

  #classify(): void {
    const svc = this.svc;
    this.externalTarget = '';
    this.externalTargetLower = '';
    if (svc === undefined) {
      this.kind = SERVICE_KIND.NONE;
    } else if (svc.type === 'ExternalName') {
      const t = svc.externalName;
      // CoreDNS msg.Service.HostType: a target that parses as an IP is not a CNAME and the service is skipped.
      // A name we could not put on the wire would fail the whole reply, so it is skipped as well.
      if (t === '' || canonicalIP(t) !== null || !validName(t)) {
        this.kind = SERVICE_KIND.IGNORED;
      } else {
        this.kind = SERVICE_KIND.EXTERNAL;
        this.externalTarget = t.endsWith('.') ? t : `${t}.`;
        this.externalTargetLower = this.externalTarget.toLowerCase();
      }
    } else if (svc.headless) {
      this.kind = SERVICE_KIND.HEADLESS;
    } else {
      this.kind = SERVICE_KIND.CLUSTER_IP;
    }
  }

  #buildRows(podNames: boolean, shared: SharedArrays | undefined): void {
    const slices = this.slices;
    let n = 0;
    for (const sl of slices) n += readyRowCount(sl);
    if (n === 0) {
      this.rowName = NO_ROWS;
      this.rowIP = NO_ROWS;
      this.rowSlice = NO_ROWS;
      return;
    }
    // Exact-size arrays: no growth slack kept for the life of the records.
    const names: string[] = new Array<string>(n);
    const slicesOf: number[] = new Array<number>(n);
    // Most services have one slice with every endpoint ready: their rows are that slice's address column, shared.
    const whole = slices.length === 1 && slices[0]!.notReady.length === 0;
    const ips: string[] | null = whole ? null : new Array<string>(n);
    let r = 0;
    for (let s = 0; s < slices.length; s++) {
      const sl = slices[s]!;
      const addrs = sl.addresses;
      const notReady = sl.notReady;
      let k = 0;
      for (let i = 0; i < addrs.length; i++) {
        // CoreDNS object/endpoint.go: only `ready` counts (a missing ready is true); serving/terminating ignored.
        if (notReady[k] === i) {
          k++;
          continue;
        }
        names[r] = storedEndpointName(hostnameAt(sl, i), targetRefNameAt(sl, i), podNames);
        if (ips !== null) ips[r] = addrs[i]!;
        slicesOf[r] = s;
        r++;
      }
    }
    this.rowIP = ips ?? slices[0]!.addresses;
    // Most services have no endpoint names (all '') and one slice (all 0): those arrays are shared.
    this.rowName = whole && sameItems(names, slices[0]!.hostnames) ? slices[0]!.hostnames : shared !== undefined ? shared.strings(names) : names;
    this.rowSlice = shared !== undefined ? shared.numbers(slicesOf) : slicesOf;
  }

  #buildSets(shared: SharedArrays | undefined): void {
    const cluster = this.kind === SERVICE_KIND.CLUSTER_IP;
    const bare = cluster ? this.#clusterSet('', '', shared) : this.#rowSet('', '', null, null, shared);
    this.srv = bare;
    // Every named (port, protocol) pair the name can be asked for: the Service's ports for a ClusterIP service,
    // the slices' ports for a headless one.
    const names: string[] = [];
    const protos: string[] = [];
    const sets: SrvSet[] = [];
    const add = (ports: readonly PortLike[]): void => {
      for (const p of ports) {
        if (p.name === '') continue;
        const port = lower(p.name);
        const proto = lower(p.protocol);
        let seen = false;
        for (let i = 0; i < names.length && !seen; i++) seen = names[i] === port && protos[i] === proto;
        if (seen) continue;
        // When every port there is matches the pair, the set is the bare one: share it instead of copying.
        let set: SrvSet | null;
        if (bare !== null && this.#allPortsMatch(port, proto)) set = bare;
        else set = cluster ? this.#clusterSet(port, proto, shared) : this.#rowSet(port, proto, null, null, shared);
        if (set === null) continue;
        names.push(port);
        protos.push(proto);
        sets.push(set);
      }
    };
    if (cluster) add(this.svc!.ports);
    else for (const s of this.slices) add(s.ports);
    if (sets.length === 0) return;
    if (shared !== undefined) {
      this.portNames = shared.strings(names);
      this.portProtos = shared.strings(protos);
      this.portSets = shared.setList(sets);
    } else {
      this.portNames = exact(names);
      this.portProtos = exact(protos);
      this.portSets = exact(sets);
    }
  }

  #allPortsMatch(port: string, proto: string): boolean {
    if (this.kind === SERVICE_KIND.CLUSTER_IP) {
      const ports = this.svc!.ports;
      return ports.length > 0 && ports.every((p) => portMatches(port, proto, p));
    }
    return this.slices.every((s) => s.ports.length > 0 && s.ports.every((p) => portMatches(port, proto, p)));
  }

  // CoreDNS findServices, ClusterIP branch: one entry per (matching port × cluster IP); SRV deduplicated by
  // (target, port) where the target is always the service name; additional = the cluster IPs.
  #clusterSet(port: string, proto: string, shared: SharedArrays | undefined): SrvSet | null {
    const svc = this.svc!;
    const ports = svc.ports.length > 0 ? svc.ports : SENTINEL_PORTS;
    const nIPs = svc.clusterIPs.length;
    let matched = 0;
    let candidates = 0;
    const srvRows: number[] = [];
    const srvPorts: number[] = [];
    for (const p of ports) {
      if (!portMatches(port, proto, p)) continue;
      matched++;
      candidates += nIPs;
      if (nIPs === 0 || p.port === -1 || srvPorts.includes(p.port)) continue;
      srvRows.push(-1);
      srvPorts.push(p.port);
    }
    if (matched === 0) return null;
    if (shared !== undefined) return shared.clusterSet(candidates, floorWeight(candidates), srvPorts, srvRows);
    return {
      cluster: true,
      candidates,
      weight: floorWeight(candidates),
      srvRows: exact(srvRows),
      srvPorts: exact(srvPorts),
      extraRows: NO_ROWS,
      addrRows: NO_ROWS,
    };
  }

  // CoreDNS findServices, endpoint/headless branch: one entry per (ready address × matching port of its slice),
  // optionally only addresses named `label`. Address answers dedup by IP, SRV by (endpoint name, port),
  // additional records by (endpoint name, IP).
  #rowSet(port: string, proto: string, label: string | null, labelIP: string | null, shared: SharedArrays | undefined): SrvSet | null {
    const slices = this.slices;
    const matching: (readonly PortLike[])[] = new Array(slices.length);
    for (let s = 0; s < slices.length; s++) {
      const ports = slices[s]!.ports.length > 0 ? slices[s]!.ports : SENTINEL_PORTS;
      matching[s] = ports.filter((p) => portMatches(port, proto, p));
    }
    const ips = this.rowIP;
    let candidates = 0;
    const srvRows: number[] = [];
    const srvPorts: number[] = [];
    const extraRows: number[] = [];
    const addrRows: number[] = [];
    const seenSrv = new Set<string>();
    const seenExtra = new Set<string>();
    const seenAddr = new Set<string>();
    for (let r = 0; r < ips.length; r++) {
      if (label !== null && !this.rowMatches(r, label, labelIP)) continue;
      const ports = matching[this.rowSlice[r]!]!;
      if (ports.length === 0) continue;
      const ip = ips[r]!;
      if (!seenAddr.has(ip)) {
        seenAddr.add(ip);
        addrRows.push(r);
      }
      const name = this.nameAt(r);
      for (const p of ports) {
        candidates++;
        if (p.port === -1) continue;
        const sk = `${name}\n${p.port}`;
        if (!seenSrv.has(sk)) {
          seenSrv.add(sk);
          srvRows.push(r);
          srvPorts.push(p.port);
        }
        const ek = `${name}\n${ip}`;
        if (!seenExtra.has(ek)) {
          seenExtra.add(ek);
          extraRows.push(r);
        }
      }
    }
    if (candidates === 0) return null;
    // The three row lists are usually identical (one port, distinct names and addresses): keep one copy. Kept
    // sets share equal lists with other services (`0..n-1`, one port repeated).
    const keep = shared !== undefined ? (a: number[]) => shared.numbers(a) : exact;
    const addr = keep(addrRows);
    const extra = sameItems(extraRows, addr) ? addr : keep(extraRows);
    const srv = sameItems(srvRows, addr) ? addr : sameItems(srvRows, extra) ? extra : keep(srvRows);
    return { cluster: false, candidates, weight: floorWeight(candidates), srvRows: srv, srvPorts: keep(srvPorts), extraRows: extra, addrRows: addr };
  }
}
