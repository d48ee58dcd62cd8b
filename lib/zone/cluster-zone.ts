/**
 * The cluster zone of one `kubernetes` plugin instance: a view of the cluster model kept up to date incrementally,
 * holding everything a query needs so that answering only reads. A change to one object re-derives only the
 * records of the Service name, namespace, Pod or IP it touches (CoreDNS keeps informer indexes for the same
 * purpose: plugin/kubernetes/controller.go svcNameNamespaceIndex, epIPIndex, svcIPIndex, podIPIndex).
 *
 * Memory: the zone shares the model's slim objects and strings; per ready endpoint address it adds one row in
 * parallel arrays (endpoint name, IP reference, slice index) and its slots in the SRV sets, and per IP one index
 * entry that is a bare reference unless several holders share the IP (IPv4 keys in a table of numbers, see
 * multi-index.ts). A service made of one slice with every endpoint ready uses that slice's address column as its
 * rows. Arrays and SRV sets that many services derive alike (blank names, `0..n-1` rows, `[80]` ports, whole
 * ClusterIP sets) are held once (shared-arrays.ts): ~8.7 MB for 10,000 Services and 163,000 addresses.
 */
import { sameRows } from '../kube/endpoint-rows.js';
import { matches, type Selector } from '../kube/selector.js';
import type { ChangeEvent, EndpointSlice, Namespace, Pod, Service } from '../kube/types.js';
import { sameItems } from '../util/arrays.js';
import { type Bucket, forEachIn, MultiIndex } from './multi-index.js';
import { SERVICE_KIND, ServiceRecords } from './service-records.js';
import { SharedArrays } from './shared-arrays.js';

/** What the zone reads from: the cluster model (lib/kube/model.ts ClusterModel satisfies this). */
export interface ZoneModel {
  onChange(listener: (events: ChangeEvent[]) => void): () => void;
  services(): Iterable<Service>;
  endpointSlices(): Iterable<EndpointSlice>;
  namespaces(): Iterable<Namespace>;
  pods(): Iterable<Pod>;
}

/** The plugin options that decide what the zone holds. */
export interface ZoneOptions {
  /** `namespaces`: only these are exposed; empty or absent exposes all. */
  namespaces?: readonly string[];
  /** `namespace_labels`: namespaces not matching are treated as absent. */
  namespaceSelector?: Selector | null;
  /** `labels`: Services, EndpointSlices and Pods not matching are invisible. */
  labelSelector?: Selector | null;
  /** `endpoint_pod_names`. */
  endpointPodNames?: boolean;
  /** `noendpoints`: EndpointSlices are not watched at all. */
  noEndpoints?: boolean;
  /** `pods verified`: index Pods by IP. */
  podsVerified?: boolean;
  /** Clock in milliseconds, for the SOA serial (tests inject one). */
  now?: () => number;
}

/** One NS target relative to the zone (`kube-dns.kube-system.svc.`, `ns.dns.`) with its glue address. */
export interface NsAddress {
  readonly rel: string;
  readonly ip: string;
}

// Pods the API stops listing for `pods verified`: CoreDNS watches with the field selector
// status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown (controller.go podListFunc).
const GONE_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'Failed', 'Unknown']);

function visible(sel: Selector | null, labels: Readonly<Record<string, string>>): boolean {
  return sel === null || matches(sel, labels);
}

function samePorts(a: readonly { name: string; protocol: string; port: number }[], b: typeof a): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name || x.protocol !== y.protocol || x.port !== y.port) return false;
  }
  return true;
}

// The Service fields DNS answers depend on (CoreDNS controller.go detectChanges compares the same ones).
function serviceDiffers(a: Service, b: Service): boolean {
  return (
    a.type !== b.type ||
    a.headless !== b.headless ||
    a.externalName !== b.externalName ||
    !sameItems(a.clusterIPs, b.clusterIPs) ||
    !samePorts(a.ports, b.ports)
  );
}

function sliceDiffers(a: EndpointSlice, b: EndpointSlice): boolean {
  return a.serviceName !== b.serviceName || !samePorts(a.ports, b.ports) || !sameRows(a, b);
}

function ipsOf(svc: Service | undefined): readonly string[] {
  // CoreDNS svcIPIndexFunc indexes spec.clusterIPs; a headless service's "None" is no address.
  return svc === undefined || svc.headless ? [] : svc.clusterIPs;
}

/**
 * The services map's key, `name.namespace`: join() builds a flat string (a template literal of 13+ characters is a
 * cons string, 32 more bytes per key).
 */
function serviceKey(name: string, namespace: string): string {
  return [name, namespace].join('.');
}

/** The zone: subscribe once, then query. */
export class ClusterZone {
  readonly #services = new Map<string, ServiceRecords>();
  readonly #exposed = new Set<string>();
  readonly #byClusterIP = new MultiIndex<ServiceRecords>();
  readonly #byEndpointIP = new MultiIndex<ServiceRecords>();
  readonly #podsByIP = new MultiIndex<Pod>();
  // `namespace/name` → the IP a Pod is indexed under (verified mode only).
  readonly #podIP = new Map<string, string>();
  // Derived arrays and sets equal across services are held once (see SharedArrays).
  readonly #shared = new SharedArrays();

  readonly #allow: ReadonlySet<string>;
  readonly #nsSelector: Selector | null;
  readonly #labelSelector: Selector | null;
  readonly #podNames: boolean;
  readonly #noEndpoints: boolean;
  readonly #podsVerified: boolean;
  readonly #now: () => number;
  readonly #unsubscribe: () => void;

  #serial: number;
  #version = 0;
  #nsCache: { version: number; locals: readonly string[]; addrs: readonly NsAddress[] } | null = null;

  constructor(model: ZoneModel, opts: ZoneOptions = {}) {
    this.#allow = new Set(opts.namespaces ?? []);
    this.#nsSelector = opts.namespaceSelector ?? null;
    this.#labelSelector = opts.labelSelector ?? null;
    this.#podNames = opts.endpointPodNames ?? false;
    this.#noEndpoints = opts.noEndpoints ?? false;
    this.#podsVerified = opts.podsVerified ?? false;
    this.#now = opts.now ?? Date.now;
    this.#serial = this.#nowSeconds();
    const initial: ChangeEvent[] = [];
    for (const obj of model.namespaces()) initial.push({ kind: 'Namespace', type: 'added', obj });
    for (const obj of model.services()) initial.push({ kind: 'Service', type: 'added', obj });
    for (const obj of model.endpointSlices()) initial.push({ kind: 'EndpointSlice', type: 'added', obj });
    for (const obj of model.pods()) initial.push({ kind: 'Pod', type: 'added', obj });
    if (initial.length > 0) this.apply(initial);
    this.#unsubscribe = model.onChange((events) => this.apply(events));
  }

  /** Stops following the model. */
  close(): void {
    this.#unsubscribe();
  }

  /** SOA serial: Unix seconds of the last change that altered an answer (CoreDNS controller.go Modified). */
  get serial(): number {
    return this.#serial;
  }

  /** Increments with every change that altered an answer; lets callers cache derived data. */
  get version(): number {
    return this.#version;
  }

  /** Whether the `namespaces` option restricts the exposed namespaces (PTR answers only filter then). */
  get restrictsNamespaces(): boolean {
    return this.#allow.size > 0;
  }

  /** CoreDNS namespace.go namespaceExposed: the namespace exists (after `namespace_labels`) and is configured. */
  namespaceExposed(ns: string): boolean {
    return this.#exposed.has(ns);
  }

  /** The records of Service key `name.namespace`, if a visible Service or EndpointSlice carries that name. */
  service(key: string): ServiceRecords | undefined {
    return this.#services.get(key);
  }

  /** Number of service keys held (for tests and metrics). */
  get serviceCount(): number {
    return this.#services.size;
  }

  /** The visible Services having `ip` among their cluster IPs, first added first. */
  clusterIPOwners(ip: string): Bucket<ServiceRecords> | undefined {
    return this.#byClusterIP.get(ip);
  }

  /** The service keys with a ready endpoint address `ip`. */
  endpointOwners(ip: string): Bucket<ServiceRecords> | undefined {
    return this.#byEndpointIP.get(ip);
  }

  /** Pods with `status.podIP == ip` (`pods verified` only; terminating and finished pods excluded). */
  podsAt(ip: string): Bucket<Pod> | undefined {
    return this.#podsByIP.get(ip);
  }

  /**
   * PTR targets for `ip`, relative to the zone (CoreDNS reverse.go serviceRecordForIP): the first visible Service
   * whose cluster IPs contain it (`svc.ns.svc.`), else every ready endpoint with that address in any service
   * (`ep.svc.ns.svc.`), deduplicated. With the `namespaces` option, objects of other namespaces are skipped.
   */
  ptrTargets(ip: string): string[] {
    const restrict = this.#allow.size > 0;
    const out: string[] = [];
    const owners = this.#byClusterIP.get(ip);
    if (owners !== undefined) {
      if (!Array.isArray(owners)) {
        const e = owners as ServiceRecords;
        if (!restrict || this.#exposed.has(e.namespace)) {
          out.push(e.rel);
          return out;
        }
      } else {
        for (const e of owners as readonly ServiceRecords[]) {
          if (restrict && !this.#exposed.has(e.namespace)) continue;
          out.push(e.rel);
          return out;
        }
      }
    }
    const holders = this.#byEndpointIP.get(ip);
    if (holders === undefined) return out;
    if (!Array.isArray(holders)) {
      this.#endpointPtrs(holders as ServiceRecords, ip, restrict, out);
    } else {
      for (const e of holders as readonly ServiceRecords[]) this.#endpointPtrs(e, ip, restrict, out);
    }
    return out;
  }

  /**
   * NS targets and glue for the given local addresses (CoreDNS ns.go nsAddrs): for every EndpointSlice holding a
   * local address, its Service's cluster IPs under the service name, or for a headless Service every address of
   * that slice under its endpoint name; when no slice holds a local address, `ns.dns.` with the local addresses.
   * Not deduplicated (CoreDNS dedups NS names, not glue). Cached until the zone changes.
   */
  nsAddresses(locals: readonly string[]): readonly NsAddress[] {
    const c = this.#nsCache;
    if (c !== null && c.version === this.#version && c.locals === locals) return c.addrs;
    const out: NsAddress[] = [];
    let found = false;
    for (const lip of locals) {
      forEachIn(this.#byEndpointIP.get(lip), (e) => {
        const handled: number[] = [];
        for (let r = 0; r < e.rowIP.length; r++) {
          if (e.rowIP[r] !== lip) continue;
          const s = e.rowSlice[r]!;
          if (handled.includes(s)) continue;
          handled.push(s);
          found = true;
          const svc = e.svc;
          if (svc === undefined) continue;
          if (svc.headless) {
            for (let r2 = 0; r2 < e.rowIP.length; r2++) {
              if (e.rowSlice[r2] === s) out.push({ rel: `${e.nameAt(r2)}.${e.rel}`, ip: e.rowIP[r2]! });
            }
          } else {
            for (const ip of svc.clusterIPs) out.push({ rel: e.rel, ip });
          }
        }
      });
    }
    if (!found) for (const lip of locals) out.push({ rel: 'ns.dns.', ip: lip });
    this.#nsCache = { version: this.#version, locals, addrs: out };
    return out;
  }

  // The PTR targets one service contributes for an endpoint address (no closure: this runs per PTR query).
  #endpointPtrs(e: ServiceRecords, ip: string, restrict: boolean, out: string[]): void {
    if (restrict && !this.#exposed.has(e.namespace)) return;
    const ips = e.rowIP;
    for (let r = 0; r < ips.length; r++) {
      if (ips[r] !== ip) continue;
      const t = `${e.nameAt(r)}.${e.rel}`;
      if (!out.includes(t)) out.push(t);
    }
  }

  /**
   * Applies one batch of model changes (called by the model subscription; public for tests and tools). Events are
   * as the model delivers them: `modified` and `deleted` carry the previous object in `old`.
   */
  apply(events: readonly ChangeEvent[]): void {
    const dirty = new Set<ServiceRecords>();
    let changed = false;
    for (const ev of events) {
      switch (ev.kind) {
        case 'Namespace':
          if (this.#onNamespace(ev.type === 'deleted' ? undefined : ev.obj, (ev.obj ?? ev.old)!)) changed = true;
          break;
        case 'Service':
          if (this.#onService(ev.type === 'deleted' ? undefined : ev.obj, (ev.obj ?? ev.old)!, dirty)) changed = true;
          break;
        case 'EndpointSlice':
          if (this.#noEndpoints) break;
          if (this.#onSlice(ev.type === 'deleted' ? undefined : ev.obj, ev.type === 'deleted' ? (ev.old ?? ev.obj) : ev.old, dirty)) changed = true;
          break;
        case 'Pod':
          if (!this.#podsVerified) break;
          if (this.#onPod(ev.type === 'deleted' ? undefined : ev.obj, (ev.obj ?? ev.old)!)) changed = true;
          break;
      }
    }
    for (const e of dirty) this.#refresh(e);
    if (changed) {
      this.#serial = this.#nowSeconds();
      this.#version++;
    }
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000) >>> 0;
  }

  #entry(name: string, namespace: string): ServiceRecords {
    const key = serviceKey(name, namespace);
    let e = this.#services.get(key);
    if (e === undefined) {
      e = new ServiceRecords(name, namespace, key);
      this.#services.set(key, e);
    }
    return e;
  }

  #onNamespace(obj: Namespace | undefined, ref: Namespace): boolean {
    const name = ref.name;
    const exposed =
      obj !== undefined && visible(this.#nsSelector, obj.labels) && (this.#allow.size === 0 || this.#allow.has(name));
    if (exposed === this.#exposed.has(name)) return false;
    if (exposed) this.#exposed.add(name);
    else this.#exposed.delete(name);
    return true;
  }

  #onService(obj: Service | undefined, ref: Service, dirty: Set<ServiceRecords>): boolean {
    const next = obj !== undefined && visible(this.#labelSelector, obj.labels) ? obj : undefined;
    let e = this.#services.get(serviceKey(ref.name, ref.namespace));
    if (e === undefined) {
      if (next === undefined) return false;
      e = this.#entry(ref.name, ref.namespace);
    }
    const prev = e.svc;
    if (prev === next) return false;
    e.svc = next;
    const relevant = prev === undefined || next === undefined || serviceDiffers(prev, next);
    if (!relevant) return false; // same answers; the entry now points at the newer object
    const oldIPs = ipsOf(prev);
    const newIPs = ipsOf(next);
    for (const ip of oldIPs) if (!newIPs.includes(ip)) this.#byClusterIP.remove(ip, e);
    for (const ip of newIPs) if (!oldIPs.includes(ip)) this.#byClusterIP.add(ip, e);
    dirty.add(e);
    return true;
  }

  // Where a slice is filed follows from the slice itself (its service-name label, if the label selector shows it),
  // so the entry of the previous copy is found from `old`, which the model's events carry, and no slice → entry
  // map is kept (~1 MB at 10,000 slices).
  #sliceEntry(sl: EndpointSlice | undefined, create: boolean): ServiceRecords | undefined {
    if (sl === undefined || sl.serviceName === '' || !visible(this.#labelSelector, sl.labels)) return undefined;
    return create ? this.#entry(sl.serviceName, sl.namespace) : this.#services.get(serviceKey(sl.serviceName, sl.namespace));
  }

  #onSlice(obj: EndpointSlice | undefined, old: EndpointSlice | undefined, dirty: Set<ServiceRecords>): boolean {
    const name = (obj ?? old)!.name;
    const prevEntry = this.#sliceEntry(old, false);
    const nextEntry = this.#sliceEntry(obj, true);
    let relevant = false;
    if (prevEntry !== undefined && prevEntry !== nextEntry) {
      const i = prevEntry.slices.findIndex((s) => s.name === name);
      if (i >= 0) prevEntry.slices = prevEntry.slices.filter((_, j) => j !== i);
      dirty.add(prevEntry);
      relevant = true;
    }
    if (nextEntry !== undefined) {
      // Replaced in place when filed here already (also when an event comes without `old`).
      const i = nextEntry.slices.findIndex((s) => s.name === name);
      if (i >= 0) {
        const was = nextEntry.slices[i]!;
        nextEntry.slices = nextEntry.slices.with(i, obj!);
        if (!sliceDiffers(was, obj!)) return relevant;
      } else {
        // A new exact-size array rather than push: push leaves spare slots, and most services keep one slice.
        nextEntry.slices = nextEntry.slices.length === 0 ? [obj!] : [...nextEntry.slices, obj!];
      }
      dirty.add(nextEntry);
      relevant = true;
    }
    return relevant;
  }

  #onPod(obj: Pod | undefined, ref: Pod): boolean {
    // CoreDNS object/pod.go ToPod refuses a Pod with a deletionTimestamp, so an update that starts termination is
    // dropped and the previous copy stays indexed until the Pod is deleted.
    if (obj !== undefined && obj.terminating) return false;
    const id = `${ref.namespace}/${ref.name}`;
    const prevIP = this.#podIP.get(id);
    const show =
      obj !== undefined && obj.podIP !== '' && !GONE_PHASES.has(obj.phase) && visible(this.#labelSelector, obj.labels);
    const sameObj = (p: Pod): boolean => p.namespace === ref.namespace && p.name === ref.name;
    if (show && prevIP === obj.podIP) {
      this.#podsByIP.removeWhere(prevIP, sameObj);
      this.#podsByIP.add(prevIP, obj);
      return false;
    }
    if (prevIP !== undefined) {
      this.#podsByIP.removeWhere(prevIP, sameObj);
      this.#podIP.delete(id);
    }
    if (show) {
      this.#podsByIP.add(obj.podIP, obj);
      this.#podIP.set(id, obj.podIP);
    }
    return show || prevIP !== undefined;
  }

  #refresh(e: ServiceRecords): void {
    const oldIPs = e.rowIP;
    e.rebuild({ endpointPodNames: this.#podNames, shared: this.#shared });
    const newIPs = e.rowIP;
    if (oldIPs === newIPs) {
      // Same rows: the index stays as it is.
    } else if (oldIPs.length === 0) {
      // No rows before (every entry of the initial listing): nothing to diff against; the index ignores repeats.
      for (const ip of newIPs) this.#byEndpointIP.add(ip, e);
    } else {
      const fresh = new Set(newIPs);
      const stale = new Set(oldIPs);
      for (const ip of stale) if (!fresh.has(ip)) this.#byEndpointIP.remove(ip, e);
      for (const ip of fresh) if (!stale.has(ip)) this.#byEndpointIP.add(ip, e);
    }
    if (e.empty) this.#services.delete(e.key);
  }
}

export { SERVICE_KIND, ServiceRecords };
