/**
 * The `kubernetes` plugin: serves the cluster zone (CoreDNS plugin/kubernetes). Each instance owns a cluster model,
 * the source that fills it and the zone derived from it.
 */
import { networkInterfaces } from 'node:os';
import { canonicalIP } from '../../dns/ip.js';
import { ApiSource } from '../../kube/api/api-source.js';
import { timingFromEnv } from '../../kube/api/reflector.js';
import { FixtureSource } from '../../kube/fixture-source.js';
import { keepYoungGenerationSmall } from '../../kube/gc.js';
import { ClusterModel } from '../../kube/model.js';
import type { ClusterSource } from '../../kube/types.js';
import type { PluginDef, PluginEnv } from '../../plugin.js';
import { ClusterZone } from '../../zone/cluster-zone.js';
import { KubernetesHandler, type HandlerOptions } from './handler.js';
import { affectedSuffixes } from './invalidate.js';
import { apiSourceMetrics, programmingLatency, recordProgramming } from './metrics.js';
import type { ZoneOptions } from '../../zone/cluster-zone.js';
import { parse, type KubernetesConfig } from './setup.js';

// CoreDNS logs this every 0.5 s while startup waits for the first sync (kubernetes.go InitKubeCache).
const WAIT_LOG_INTERVAL_MS = 500;

/**
 * The addresses NS records point at (CoreDNS ns.go boundIPs): the non-loopback addresses the block is bound to
 * with `bind`, or, without `bind`, every non-loopback interface address. A block bound to loopback only has none.
 */
export function localAddresses(bound: readonly string[] = []): string[] {
  const out: string[] = [];
  const add = (addr: string): void => {
    // Scoped link-local addresses come with a %zone; the address part is what endpoint slices would list.
    const ip = canonicalIP(addr.split('%')[0]!);
    if (ip === null || out.includes(ip) || ip === '::1' || ip.startsWith('127.')) return;
    out.push(ip);
  };
  if (bound.length > 0) bound.forEach(add);
  else for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) add(a.address);
  return out;
}

/** Starts `source` and waits for its first listing up to `timeoutMs`, as CoreDNS's OnStartup does. */
async function startSource(source: ClusterSource, model: ClusterModel, timeoutMs: number, env: PluginEnv): Promise<void> {
  await source.prepare?.();
  const started = source.start(model);
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((res) => {
    timer = setTimeout(() => res(true), timeoutMs);
    ticker = setInterval(() => env.log.info('waiting for Kubernetes API before starting server'), WAIT_LOG_INTERVAL_MS);
  });
  try {
    // A failing first load (a broken fixture) rejects here and stops startup with its file and line.
    const late = await Promise.race([started.then(() => false), timedOut]);
    if (late && !source.synced) {
      env.log.warn('starting server with unsynced Kubernetes API');
      // Keep serving (SERVFAIL for would-be NXDOMAIN) and report a failure that comes later.
      started.catch((err: unknown) => env.log.error({ err }, 'Kubernetes source failed to start'));
    }
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
  }
}

/** The zone's share of the plugin config. */
export function zoneOptionsOf(cfg: KubernetesConfig): ZoneOptions {
  return {
    namespaces: cfg.namespaces,
    namespaceSelector: cfg.namespaceSelector,
    labelSelector: cfg.labelSelector,
    endpointPodNames: cfg.endpointPodNames,
    noEndpoints: cfg.noEndpoints,
    podsVerified: cfg.pods === 'verified',
  };
}

/** The handler's share of the plugin config; `localIPs` are the addresses NS records point at. */
export function handlerOptionsOf(cfg: KubernetesConfig, localIPs: readonly string[]): HandlerOptions {
  return {
    zones: cfg.zones,
    primaryZone: cfg.primaryZone,
    ttl: cfg.ttl,
    pods: cfg.pods,
    ignoreEmptyService: cfg.ignoreEmptyService,
    fallthrough: cfg.fallthrough,
    localIPs,
  };
}

/** The cluster's source: the fixture files when `fixture` is set, else the Kubernetes API. */
function sourceOf(cfg: KubernetesConfig, env: PluginEnv): ClusterSource {
  // Endpoints' Pod names are only read by `endpoint_pod_names`; without it they are not kept (7.5 MB at 150k endpoints).
  if (cfg.fixture !== null) return new FixtureSource({ path: cfg.fixture, log: env.log, targetRefNames: cfg.endpointPodNames });
  return new ApiSource({
    connection: { kubeconfig: cfg.kubeconfig, endpoint: cfg.endpoints[0] ?? null, tls: cfg.tls },
    limits: { qps: cfg.apiserverQPS, burst: cfg.apiserverBurst, maxInflight: cfg.apiserverMaxInflight },
    namespaces: cfg.namespaces,
    labelSelector: cfg.labelSelector?.text ?? '',
    namespaceSelector: cfg.namespaceSelector?.text ?? '',
    endpointSlices: !cfg.noEndpoints,
    pods: cfg.pods === 'verified',
    targetRefNames: cfg.endpointPodNames,
    log: env.log,
    observer: apiSourceMetrics(env.metrics),
    timing: timingFromEnv(process.env),
  });
}

/** The `kubernetes` plugin definition. */
export const kubernetes: PluginDef<KubernetesConfig> = {
  name: 'kubernetes',
  once: true,
  // Queries outside its zones (and fallthrough) pass on untouched; its own answers say whether they are replayable.
  fastPath: true,
  parse,
  build(cfg, next, env) {
    if (cfg.fixture === null && cfg.endpoints.length > 1) {
      env.log.warn(`Multiple endpoints have been deprecated, only the first specified endpoint '${cfg.endpoints[0]}' is used`);
    }
    // Before the source loads: the load would otherwise grow V8's young generation, for good on Node 20; both
    // sources parse fixture lists and API list pages an object at a time, so it costs them nothing on any Node
    // (lib/kube/gc.ts).
    keepYoungGenerationSmall({ streaming: true });
    const model = new ClusterModel({ log: env.log });
    const zone = new ClusterZone(model, zoneOptionsOf(cfg));
    const source = sourceOf(cfg, env);
    const handler = new KubernetesHandler(handlerOptionsOf(cfg, cfg.localIPs ?? localAddresses(env.hosts)), zone, next, env, () => source.synced);
    // Registered after the zone's own listener, so caches are purged once the zone already answers the new way.
    const latency = programmingLatency(env.metrics);
    const unsubscribe = model.onChange((events) => {
      // Before the first sync (a fixture's first load, the API's first lists: ~180k names in a big cluster) working
      // out each affected name costs more than purging the zones outright; caches hold little of them yet anyway.
      if (!source.synced) for (const zone of cfg.zones) env.invalidate(zone);
      else for (const suffix of affectedSuffixes(events, cfg.zones)) env.invalidate(suffix);
      // Changes in the initial listing are not programming latency; only changes after the first sync are.
      if (source.synced) recordProgramming(events, (sl) => model.get('Service', sl.namespace, sl.serviceName), latency);
    });
    env.onStartup(() => startSource(source, model, cfg.startupTimeoutMs, env));
    env.onShutdown(async () => {
      await source.stop();
      unsubscribe();
      zone.close();
    });
    env.addReadiness({ name: 'kubernetes', ready: () => source.synced });
    return handler;
  },
};
