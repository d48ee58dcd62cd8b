/**
 * Manifests against a real API server: read YAML files, find each object's REST path through API discovery, and
 * create or server-side-apply them (optionally as a dry run). What `kubectl create|apply [--dry-run=server]` does,
 * without kubectl.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ApiResponse, ControlPlane } from './control-plane.js';

/** A Kubernetes object as read from a manifest. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** One object and the file it came from. */
export interface Manifest {
  file: string;
  obj: KubeObject;
}

/** Every Kubernetes object in `target` (a file, or a directory searched recursively for .yaml/.yml/.json files). */
export function readManifests(target: string): Manifest[] {
  const files: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(path.join(p, e));
    else if (/\.(ya?ml|json)$/.test(p)) files.push(p);
  };
  walk(target);
  const out: Manifest[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const v = doc.toJS() as KubeObject | null;
      if (!v || typeof v !== 'object') continue;
      // A List holds objects; kustomize's own files (Kustomization) are not API objects.
      if (v.kind === 'List' && Array.isArray(v.items)) for (const item of v.items as KubeObject[]) out.push({ file, obj: item });
      else if (v.apiVersion && v.kind && v.metadata && !String(v.apiVersion).startsWith('kustomize.config.k8s.io')) out.push({ file, obj: v });
    }
  }
  return out;
}

/** Where an object lives in the REST API. */
export interface ResourcePath {
  /** The collection: `/api/v1/namespaces/kube-system/services`. */
  collection: string;
  /** The object: collection + `/name`. */
  item: string;
  namespaced: boolean;
}

/** Maps kinds to REST paths through API discovery; one discovery request per apiVersion. */
export class Discovery {
  readonly #cp: ControlPlane;
  readonly #cache = new Map<string, Array<{ name: string; kind: string; namespaced: boolean }>>();

  constructor(cp: ControlPlane) {
    this.#cp = cp;
  }

  /** The REST path of `obj` (namespace defaults to `default`, as kubectl's). */
  async path(obj: KubeObject): Promise<ResourcePath> {
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    let resources = this.#cache.get(base);
    if (!resources) {
      const list = await this.#cp.must<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>('GET', base);
      resources = list.resources;
      this.#cache.set(base, resources);
    }
    const r = resources.find((x) => x.kind === obj.kind && !x.name.includes('/'));
    if (!r) throw new Error(`the API server does not serve ${obj.kind} in ${obj.apiVersion}`);
    const ns = obj.metadata.namespace ?? 'default';
    const collection = r.namespaced ? `${base}/namespaces/${ns}/${r.name}` : `${base}/${r.name}`;
    return { collection, item: `${collection}/${obj.metadata.name}`, namespaced: r.namespaced };
  }

  /** POST the object (`dryRun=All` when asked). */
  async create(obj: KubeObject, o: { dryRun?: boolean } = {}): Promise<ApiResponse> {
    const p = await this.path(obj);
    return this.#cp.request('POST', p.collection + (o.dryRun ? '?dryRun=All' : ''), obj);
  }

  /** Server-side apply (`kubectl apply --server-side [--dry-run=server]`): creates or updates. */
  async apply(obj: KubeObject, o: { dryRun?: boolean; fieldManager?: string } = {}): Promise<ApiResponse> {
    const p = await this.path(obj);
    const q = new URLSearchParams({ fieldManager: o.fieldManager ?? 'clusterdns-tests', force: 'true' });
    if (o.dryRun) q.set('dryRun', 'All');
    return this.#cp.request('PATCH', `${p.item}?${q}`, JSON.stringify(obj), 'application/apply-patch+yaml');
  }
}
