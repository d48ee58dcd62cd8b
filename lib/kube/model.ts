/**
 * The cluster model: the current slim objects of every watched kind, written by a source (fixture files or API
 * informers) and read by the zone. Every change reaches listeners as one batch of ChangeEvents, so a reader never
 * sees half of a reload.
 */
import type { Logger } from 'pino';
import type { ChangeEvent, Kind, KindMap, ModelSink, Snapshot } from './types.js';

/** Receives each applied batch (never empty). */
export type ChangeListener = (events: ChangeEvent[]) => void;

/** Options for {@link ClusterModel}. */
export interface ClusterModelOptions {
  /** Where listener failures are reported; without it they are reported with `process.emitWarning`. */
  log?: Logger;
}

/** The kinds in the order a batch lists them: namespaces before what lives in them, slices after their services. */
export const KINDS: readonly Kind[] = ['Namespace', 'Service', 'EndpointSlice', 'Pod'];

const SNAPSHOT_FIELD: { [K in Kind]: keyof Snapshot } = {
  Namespace: 'namespaces',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Pod: 'pods',
};

/** The map key of an object: `namespace/name` ('' namespace for cluster-scoped objects, so `/name`). */
export function objectKey(namespace: string, name: string): string {
  // join() builds a flat string; a template literal of 13+ characters is a cons string (32 more bytes per key).
  return [namespace, name].join('/');
}

type Stores = { [K in Kind]: Map<string, KindMap[K]> };
type AnyObj = KindMap[Kind];

/**
 * Deep equality of plain data (objects compared by their own enumerable keys, in any order; a key holding undefined
 * counts as absent), as slim objects are. Shared parts (interned label sets, port lists) compare by identity first.
 */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k) || x[k] === undefined) continue;
    if (!Object.hasOwn(y, k) || !sameData(x[k], y[k])) return false;
    n++;
  }
  for (const k in y) if (Object.hasOwn(y, k) && y[k] !== undefined) n--;
  return n === 0;
}

/** The current cluster content. Implements {@link ModelSink} for sources; readers use the getters and `onChange`. */
export class ClusterModel implements ModelSink {
  readonly #stores: Stores = {
    Namespace: new Map(),
    Service: new Map(),
    EndpointSlice: new Map(),
    Pod: new Map(),
  };
  readonly #listeners: ChangeListener[] = [];
  readonly #log: Logger | undefined;

  constructor(opts: ClusterModelOptions = {}) {
    this.#log = opts.log;
  }

  /**
   * Applies a batch and notifies listeners once. Events are normalised against the current content: an `added` or
   * `modified` for a stored key becomes `modified` with `old` set, for an unknown key `added`; a `deleted` gets
   * `old` from the store and is dropped when the key is not stored. Listeners get the normalised events.
   */
  apply(events: ChangeEvent[]): void {
    const out: ChangeEvent[] = [];
    for (const ev of events) {
      const store = this.#stores[ev.kind] as Map<string, AnyObj>;
      if (ev.type === 'deleted') {
        const ref = ev.old ?? ev.obj;
        if (!ref) continue;
        const key = objectKey(ref.namespace, ref.name);
        const old = store.get(key);
        if (!old) continue;
        store.delete(key);
        out.push({ kind: ev.kind, type: 'deleted', old } as ChangeEvent);
      } else {
        const obj = ev.obj;
        if (!obj) continue;
        const key = objectKey(obj.namespace, obj.name);
        const old = store.get(key);
        store.set(key, obj);
        out.push((old ? { kind: ev.kind, type: 'modified', obj, old } : { kind: ev.kind, type: 'added', obj }) as ChangeEvent);
      }
    }
    this.#notify(out);
  }

  /**
   * Replaces the whole content with a full listing. Objects whose resourceVersion and content are unchanged produce
   * no event; the rest become added/modified/deleted events applied as one batch (none when nothing changed).
   * Within a kind, the last of several objects with the same key wins.
   */
  replace(snapshot: Snapshot): void {
    const events: ChangeEvent[] = [];
    for (const kind of KINDS) this.#diffKind(kind, snapshot[SNAPSHOT_FIELD[kind]] as AnyObj[], undefined, events);
    this.apply(events);
  }

  /**
   * Replaces the objects of one kind with a fresh listing, as one batch. With `inScope`, stored objects it rejects
   * are left alone (a namespaced re-list must not delete other namespaces' objects). Same diffing as `replace`.
   */
  replaceKind<K extends Kind>(kind: K, objects: readonly KindMap[K][], inScope?: (obj: KindMap[K]) => boolean): void {
    const events: ChangeEvent[] = [];
    this.#diffKind(kind, objects as readonly AnyObj[], inScope as ((obj: AnyObj) => boolean) | undefined, events);
    this.apply(events);
  }

  #diffKind(kind: Kind, objects: readonly AnyObj[], inScope: ((obj: AnyObj) => boolean) | undefined, events: ChangeEvent[]): void {
    const store = this.#stores[kind] as Map<string, AnyObj>;
    const fresh = new Map<string, AnyObj>();
    for (const obj of objects) fresh.set(objectKey(obj.namespace, obj.name), obj);
    for (const [key, obj] of fresh) {
      const old = store.get(key);
      if (!old) events.push({ kind, type: 'added', obj } as ChangeEvent);
      else if (!this.#same(old, obj)) events.push({ kind, type: 'modified', obj, old } as ChangeEvent);
    }
    for (const [key, old] of store) {
      if (!fresh.has(key) && (inScope === undefined || inScope(old))) events.push({ kind, type: 'deleted', old } as ChangeEvent);
    }
  }

  /** Registers a listener for applied batches; returns a function that unregisters it. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** The stored object of `kind` at `namespace/name` (namespace '' for Namespaces), or undefined. */
  get<K extends Kind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return (this.#stores[kind] as Map<string, KindMap[K]>).get(objectKey(namespace, name));
  }

  /** Number of stored objects of `kind`. */
  size(kind: Kind): number {
    return this.#stores[kind].size;
  }

  /** All stored objects of `kind`. */
  all<K extends Kind>(kind: K): IterableIterator<KindMap[K]> {
    return (this.#stores[kind] as Map<string, KindMap[K]>).values();
  }

  /** All Services. */
  services(): IterableIterator<KindMap['Service']> {
    return this.#stores.Service.values();
  }

  /** All EndpointSlices. */
  endpointSlices(): IterableIterator<KindMap['EndpointSlice']> {
    return this.#stores.EndpointSlice.values();
  }

  /** All Namespaces. */
  namespaces(): IterableIterator<KindMap['Namespace']> {
    return this.#stores.Namespace.values();
  }

  /** All Pods. */
  pods(): IterableIterator<KindMap['Pod']> {
    return this.#stores.Pod.values();
  }

  /** A full listing of the current content (new arrays; the objects themselves are shared and must not be mutated). */
  snapshot(): Snapshot {
    return {
      services: [...this.#stores.Service.values()],
      endpointSlices: [...this.#stores.EndpointSlice.values()],
      namespaces: [...this.#stores.Namespace.values()],
      pods: [...this.#stores.Pod.values()],
    };
  }

  #same(a: AnyObj, b: AnyObj): boolean {
    // Compared field by field rather than by cached fingerprints: a fingerprint per stored object would hold a
    // JSON copy of the whole cluster for as long as the objects live.
    return a === b || (a.resourceVersion === b.resourceVersion && sameData(a, b));
  }

  #notify(events: ChangeEvent[]): void {
    if (events.length === 0) return;
    // Copy: a listener may unsubscribe itself while we iterate.
    for (const listener of [...this.#listeners]) {
      try {
        listener(events);
      } catch (err) {
        // A broken reader must not stop the others or leave the model half-updated: the store is already written.
        if (this.#log) this.#log.error({ err }, 'cluster model listener failed');
        else process.emitWarning(`cluster model listener failed: ${String(err)}`);
      }
    }
  }
}
