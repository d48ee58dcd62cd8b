/**
 * The Kubernetes API as a ClusterSource: one reflector per watched collection, all writing slim objects into the
 * same model. What is watched follows CoreDNS (plugin/kubernetes controller.go): Services and Namespaces always,
 * EndpointSlices unless `noendpoints`, Pods only for `pods verified`. `namespaces` narrows the namespaced
 * collections to those namespaces (one collection path each), `labels` is sent as the label selector of Services
 * and EndpointSlices and `namespace_labels` as that of Namespaces, so the API server does the filtering.
 */
import type { Logger } from 'pino';
import { settleAfterLoad } from '../gc.js';
import { slimEndpointSlice, slimNamespace, slimPod, slimService } from '../slim.js';
import type { ClusterSource, Kind, ModelSink } from '../types.js';
import { ApiClient, type ClientLimits, type RequestObserver } from './client.js';
import { connect, type ApiConnection, type ConnectionSpec } from './connection.js';
import { DEFAULT_TIMING, Reflector, type CollectionSpec, type ReflectorHooks, type ReflectorTiming } from './reflector.js';

/** Everything the source reports, for metrics (lib/plugins/kubernetes/metrics.ts). */
export interface SourceObserver extends RequestObserver, ReflectorHooks {
  /** Sync state changed (true once every collection has been listed). */
  synced?(synced: boolean): void;
}

/** Options for {@link ApiSource}. */
export interface ApiSourceOptions {
  connection: ConnectionSpec;
  limits: ClientLimits;
  /** `namespaces`: only these namespaces' objects are listed; empty lists all. */
  namespaces: readonly string[];
  /** `labels`, as selector text for Services and EndpointSlices; '' for none. */
  labelSelector: string;
  /** `namespace_labels`, as selector text for Namespaces; '' for none. */
  namespaceSelector: string;
  /** Watch EndpointSlices (false with `noendpoints`). */
  endpointSlices: boolean;
  /** Watch Pods (`pods verified`). */
  pods: boolean;
  /** Keep endpoints' Pod names (only `endpoint_pod_names` reads them); default true. */
  targetRefNames?: boolean;
  log?: Logger;
  timing?: Partial<ReflectorTiming>;
  observer?: SourceObserver;
  /** Environment for the in-cluster configuration (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

interface Collection {
  kind: Kind;
  resource: string;
  group: string;
  /** Path prefix of the API group version, e.g. `/api/v1` or `/apis/discovery.k8s.io/v1`. */
  base: string;
  namespaced: boolean;
  slim: (raw: unknown) => never;
}

const COLLECTIONS: Record<Kind, Collection> = {
  Namespace: { kind: 'Namespace', resource: 'namespaces', group: '', base: '/api/v1', namespaced: false, slim: slimNamespace as never },
  Service: { kind: 'Service', resource: 'services', group: '', base: '/api/v1', namespaced: true, slim: slimService as never },
  EndpointSlice: {
    kind: 'EndpointSlice',
    resource: 'endpointslices',
    group: 'discovery.k8s.io',
    base: '/apis/discovery.k8s.io/v1',
    namespaced: true,
    slim: slimEndpointSlice as never,
  },
  Pod: { kind: 'Pod', resource: 'pods', group: '', base: '/api/v1', namespaced: true, slim: slimPod as never },
};

/** The field selector of the Pod collection: only Pods that may still hold their IP. */
export const POD_FIELD_SELECTOR = 'status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown';

/** The collections (paths and selectors) to mirror for `opts`. */
export function collectionsFor(opts: Pick<ApiSourceOptions, 'namespaces' | 'labelSelector' | 'namespaceSelector' | 'endpointSlices' | 'pods'>): CollectionSpec[] {
  const kinds: Kind[] = ['Namespace', 'Service'];
  if (opts.endpointSlices) kinds.push('EndpointSlice');
  if (opts.pods) kinds.push('Pod');
  const out: CollectionSpec[] = [];
  for (const kind of kinds) {
    const c = COLLECTIONS[kind];
    const labelSelector = kind === 'Namespace' ? opts.namespaceSelector : opts.labelSelector;
    // CoreDNS (controller.go podListFunc) leaves finished Pods out on the server side: their IPs are free for reuse.
    const fieldSelector = kind === 'Pod' ? POD_FIELD_SELECTOR : '';
    const common = { kind, resource: c.resource, group: c.group, labelSelector, fieldSelector, slim: c.slim };
    if (c.namespaced && opts.namespaces.length > 0) {
      for (const ns of opts.namespaces) {
        out.push({ ...common, namespace: ns, path: `${c.base}/namespaces/${encodeURIComponent(ns)}/${c.resource}` });
      }
    } else {
      out.push({ ...common, namespace: '', path: `${c.base}/${c.resource}` });
    }
  }
  return out;
}

/** Mirrors the API's Services, EndpointSlices, Namespaces (and Pods) into the model. */
export class ApiSource implements ClusterSource {
  readonly #opts: ApiSourceOptions;
  readonly #timing: ReflectorTiming;
  #conn: ApiConnection | null = null;
  #reflectors: Reflector[] = [];
  #synced = false;
  #stopped = false;
  #started = false;
  #resolveSynced: (() => void) | null = null;

  constructor(opts: ApiSourceOptions) {
    this.#opts = opts;
    this.#timing = { ...DEFAULT_TIMING, ...opts.timing };
  }

  /** True once every collection has been listed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Which server and mode, once started. */
  get description(): string {
    return this.#conn?.description ?? '';
  }

  /**
   * Connects and starts every reflector; resolves when all have listed (API errors are retried forever, so this
   * waits as long as the API is unreachable: the caller bounds it with `startup_timeout`).
   * @throws ConnectionError when the connection configuration cannot work.
   */
  /**
   * Loads the API client and the credentials (importing @kubernetes/client-node takes 0.5 s, several on a busy
   * machine: that is not the API's fault, so it is not counted against `startup_timeout`).
   * @throws ConnectionError when the connection configuration cannot work.
   */
  async prepare(): Promise<void> {
    this.#conn ??= await connect(this.#opts.connection, this.#opts.env);
  }

  async start(sink: ModelSink): Promise<void> {
    if (this.#started) throw new Error('ApiSource already started');
    this.#started = true;
    const log = this.#opts.log;
    await this.prepare();
    if (!this.#conn) throw new Error('unreachable: prepare() sets the connection');
    if (this.#stopped) {
      this.#conn.close();
      return;
    }
    log?.info(`connecting to the Kubernetes API: ${this.#conn.description}`);
    const client = new ApiClient(this.#conn, this.#opts.limits, this.#opts.observer);
    const started = performance.now();
    const specs = collectionsFor(this.#opts);
    const syncedAll = new Promise<void>((resolve) => (this.#resolveSynced = resolve));
    const observer = this.#opts.observer;
    const counts = new Map<string, number>();
    const hooks: ReflectorHooks = {
      ...pickHooks(observer),
      listed: (spec, objects, pages, ms, first) => {
        observer?.listed?.(spec, objects, pages, ms, first);
        // The sync summary counts each collection's first listing once (a re-list before the sync is not added).
        if (first) counts.set(spec.resource, (counts.get(spec.resource) ?? 0) + objects);
        log?.info(
          { resource: spec.resource, namespace: spec.namespace || undefined, objects, pages, ms: Math.round(ms) },
          first ? `listed ${objects} ${spec.resource}` : `re-listed ${objects} ${spec.resource}`,
        );
        if (first && !this.#synced && this.#reflectors.every((r) => r.synced)) {
          this.#synced = true;
          observer?.synced?.(true);
          log?.info({ ...Object.fromEntries(counts), ms: Math.round(performance.now() - started) }, 'Kubernetes API synced');
          this.#resolveSynced?.();
          // The lists' garbage (raw items, change batches) would otherwise sit in the heap of an idle server; collected
          // a moment later, as after a fixture load, so the first answers go out before the collection stops everything.
          settleAfterLoad([...counts.values()].reduce((a, b) => a + b, 0));
        }
      },
    };
    const poolOptions = { targetRefNames: this.#opts.targetRefNames ?? true };
    this.#reflectors = specs.map((spec) => new Reflector(spec, client, sink, { log, timing: this.#timing, hooks, poolOptions }));
    observer?.synced?.(false);
    for (const r of this.#reflectors) r.start();
    await syncedAll;
  }

  /** Stops every reflector and closes the connection. Safe to call more than once and before start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#reflectors.map((r) => r.stop()));
    this.#conn?.close();
    // A start() still waiting for its first sync is released; `synced` stays false.
    this.#resolveSynced?.();
  }
}

function pickHooks(o: SourceObserver | undefined): ReflectorHooks {
  if (!o) return {};
  return {
    events: o.events?.bind(o),
    applied: o.applied?.bind(o),
    restarted: o.restarted?.bind(o),
  };
}
