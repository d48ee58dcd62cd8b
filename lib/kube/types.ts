/**
 * The cluster model: slim copies of the Kubernetes objects DNS needs, nothing more (CoreDNS plugin/kubernetes/object
 * keeps the same trimmed shapes so memory stays proportional to what DNS serves, not to the API objects' size).
 * Sources (fixture files, API informers) produce these; the zone consumes them. No module below lib/zone reaches back.
 */

/** Identity shared by every slim object; kept so an answer can say which object and version it came from. */
export interface ObjectMeta {
  namespace: string; // '' for cluster-scoped objects (Namespace)
  name: string;
  resourceVersion: string;
  labels: Readonly<Record<string, string>>;
}

/** A service port. `name` is '' for an unnamed port. CoreDNS uses port -1 as a "no ports" sentinel; we keep `ports` empty instead. */
export interface ServicePort {
  name: string;
  protocol: string; // 'TCP' | 'UDP' | 'SCTP' as in the API (upper case)
  port: number;
}

export interface Service extends ObjectMeta {
  type: string; // ClusterIP | NodePort | LoadBalancer | ExternalName
  /** `spec.clusterIPs`, or `[spec.clusterIP]` when clusterIPs is empty; canonical text. `['None']` means headless. */
  clusterIPs: readonly string[];
  /** True when clusterIPs[0] === 'None' (CoreDNS object/service.go Headless). */
  headless: boolean;
  /** Set for type ExternalName: the target name without a trailing dot, as written in the spec. */
  externalName: string;
  ports: readonly ServicePort[];
}

export interface EndpointPort {
  name: string;
  protocol: string;
  port: number;
}

/**
 * The endpoints of an EndpointSlice, one row per address in parallel columns: an endpoint with two addresses is two
 * rows with the same readiness and names, as CoreDNS object/endpoint.go expands them into EndpointAddresses.
 * Columns rather than an object per endpoint: at 150,000 endpoints an `Endpoint` object with its `addresses` array
 * cost ~130 bytes more per endpoint than a slot in each column (lib/kube/endpoint-rows.ts builds and reads them).
 * A column that would hold only '' is empty instead, and `notReady` lists the exceptions, so equal content always
 * has equal columns. The endpoints' `nodeName` and `zone` are not kept: no answer depends on them.
 */
export interface EndpointRows {
  /** Canonical IP text of each row; an endpoint's duplicate or unusable addresses are dropped. */
  addresses: readonly string[];
  /**
   * The rows whose endpoint has `conditions.ready` false, ascending (a missing/null `ready` is true, as in CoreDNS
   * object/endpoint.go).
   */
  notReady: readonly number[];
  /** Each row's endpoint `hostname` ('' when unset); empty when no endpoint of the slice has one. */
  hostnames: readonly string[];
  /**
   * Each row's `targetRef.name` when the target is a Pod ('' otherwise), used by `endpoint_pod_names`; empty when
   * no row has one or the source does not keep them.
   */
  targetRefNames: readonly string[];
}

export interface EndpointSlice extends ObjectMeta, EndpointRows {
  /** The owning service's name from the `kubernetes.io/service-name` label; '' when the label is missing. */
  serviceName: string;
  addressType: string; // IPv4 | IPv6 | FQDN
  /**
   * The `endpoints.kubernetes.io/last-change-trigger-time` annotation in ms since the epoch (0 when absent): when
   * the change this slice reflects happened, for the DNS programming latency metric.
   */
  lastChangeTriggerTime: number;
  ports: readonly EndpointPort[];
}

export interface Namespace extends ObjectMeta {}

export interface Pod extends ObjectMeta {
  /** `status.podIP` (the primary IP only, as CoreDNS), canonical text, '' when unassigned. */
  podIP: string;
  phase: string;
  /** True when `metadata.deletionTimestamp` is set. */
  terminating: boolean;
}

/** The four kinds DNS watches. */
export type Kind = 'Service' | 'EndpointSlice' | 'Namespace' | 'Pod';

export interface KindMap {
  Service: Service;
  EndpointSlice: EndpointSlice;
  Namespace: Namespace;
  Pod: Pod;
}

/** One change to the model. `old` is set for updates and deletes, `obj` for adds and updates. */
export type ChangeEvent = {
  [K in Kind]: { kind: K; type: 'added' | 'modified' | 'deleted'; obj?: KindMap[K]; old?: KindMap[K] };
}[Kind];

/** A full listing of every kind, as a source delivers it on (re)load. */
export interface Snapshot {
  services: Service[];
  endpointSlices: EndpointSlice[];
  namespaces: Namespace[];
  pods: Pod[];
}

/** What a source writes into: the cluster model (lib/kube/model.ts implements it). */
export interface ModelSink {
  /** Apply a batch of changes atomically (listeners see one batch). */
  apply(events: ChangeEvent[]): void;
  /** Replace everything with a full listing: computes the difference and applies it as one batch. */
  replace(snapshot: Snapshot): void;
  /**
   * Replace every object of one kind (or, with `inScope`, only the stored objects it accepts, e.g. one namespace's)
   * with a fresh listing, as one batch: what an API re-list of a single resource delivers.
   */
  replaceKind<K extends Kind>(kind: K, objects: readonly KindMap[K][], inScope?: (obj: KindMap[K]) => boolean): void;
}

/**
 * Where a cluster comes from. A source writes slim objects into the model; the zone never knows whether they came
 * from files or from the API. `start` resolves once the first full listing has been delivered (synced) or failed.
 */
export interface ClusterSource {
  /**
   * Optional work before `start` that does not count against `startup_timeout`: loading libraries and credentials.
   * @throws when the source's configuration cannot work.
   */
  prepare?(): Promise<void>;
  start(sink: ModelSink): Promise<void>;
  /** True once the first full listing has been delivered. */
  readonly synced: boolean;
  stop(): Promise<void>;
}
