/**
 * Raw Kubernetes API objects (plain JSON, as the API server stores and serves them) for tests that talk to a fake
 * or real API server. Only the fields DNS reads, plus what the API server requires.
 */

/** `[name, protocol, port]`. */
export type RawPort = [string, string, number];

export type Raw = Record<string, unknown>;

/** A v1 Namespace. */
export function apiNamespace(name: string, labels: Record<string, string> = {}): Raw {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

export interface ApiServiceOpts {
  /** Cluster IPs; `['None']` for headless; omitted with `externalName`. */
  clusterIPs?: string[];
  ports?: RawPort[];
  externalName?: string;
  type?: string;
  labels?: Record<string, string>;
}

/** A v1 Service: ClusterIP (default one IP 10.96.0.1), headless (`clusterIPs: ['None']`), dual-stack or ExternalName. */
export function apiService(namespace: string, name: string, o: ApiServiceOpts = {}): Raw {
  const ports = (o.ports ?? [['http', 'TCP', 80]]).map(([n, protocol, port]) => ({ ...(n ? { name: n } : {}), protocol, port, targetPort: port }));
  const spec: Raw = o.externalName
    ? { type: 'ExternalName', externalName: o.externalName }
    : {
        type: o.type ?? 'ClusterIP',
        clusterIP: (o.clusterIPs ?? ['10.96.0.1'])[0],
        clusterIPs: o.clusterIPs ?? ['10.96.0.1'],
        ipFamilies: (o.clusterIPs ?? ['10.96.0.1']).filter((ip) => ip !== 'None').map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')),
        ports,
      };
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels: o.labels ?? {} }, spec };
}

export interface ApiEndpoint {
  ip: string;
  ready?: boolean;
  hostname?: string;
  /** A Pod targetRef name. */
  pod?: string;
}

/** A discovery.k8s.io/v1 EndpointSlice of Service `service` (address type from the first IP). */
export function apiSlice(namespace: string, name: string, service: string, endpoints: ApiEndpoint[], ports: RawPort[] = [['http', 'TCP', 80]], labels: Record<string, string> = {}): Raw {
  const v6 = endpoints[0]?.ip.includes(':') ?? false;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service, ...labels } },
    addressType: v6 ? 'IPv6' : 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace } } : {}),
    })),
    ports: ports.map(([n, protocol, port]) => ({ ...(n ? { name: n } : {}), protocol, port })),
  };
}

/** A running v1 Pod with `ip`. */
export function apiPod(namespace: string, name: string, ip: string): Raw {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}
