/**
 * Slim Kubernetes object factories for zone and kubernetes-plugin tests, and the standard test cluster (modelled
 * on the fixtures of CoreDNS plugin/kubernetes/handler_test.go, extended for the cases §7/§13 of the behaviour
 * reference name).
 */
import { ClusterModel } from '../../lib/kube/model.js';
import { rowsOf } from '../../lib/kube/endpoint-rows.js';
import type { EndpointPort, EndpointSlice, Namespace, Pod, Service, ServicePort, Snapshot } from '../../lib/kube/types.js';

/** `[name, protocol, port]` shorthand for ports. */
export type PortSpec = [string, string, number];

function ports(specs: readonly PortSpec[]): ServicePort[] {
  return specs.map(([name, protocol, port]) => ({ name, protocol, port }));
}

/** A Namespace. */
export function ns(name: string, labels: Record<string, string> = {}, rv = '1'): Namespace {
  return { namespace: '', name, resourceVersion: rv, labels };
}

export interface SvcOpts {
  /** Cluster IPs; 'None' for headless. */
  ips?: string[] | 'None';
  type?: string;
  externalName?: string;
  ports?: PortSpec[];
  labels?: Record<string, string>;
  rv?: string;
}

/** A Service (ClusterIP by default). */
export function svc(namespace: string, name: string, o: SvcOpts = {}): Service {
  const clusterIPs = o.ips === 'None' ? ['None'] : (o.ips ?? []);
  return {
    namespace,
    name,
    resourceVersion: o.rv ?? '1',
    labels: o.labels ?? {},
    type: o.type ?? (o.externalName !== undefined ? 'ExternalName' : 'ClusterIP'),
    clusterIPs,
    headless: clusterIPs[0] === 'None',
    externalName: o.externalName ?? '',
    ports: ports(o.ports ?? []),
  };
}

export interface EpOpts {
  ready?: boolean;
  hostname?: string;
  targetRef?: string;
}

/** An EndpointSlice endpoint, as the API lists it; {@link slice} turns endpoints into the model's rows. */
export interface Endpoint {
  addresses: string[];
  ready: boolean;
  hostname: string;
  targetRefName: string;
}

/** An EndpointSlice endpoint. */
export function ep(addresses: string | string[], o: EpOpts = {}): Endpoint {
  return {
    addresses: typeof addresses === 'string' ? [addresses] : addresses,
    ready: o.ready ?? true,
    hostname: o.hostname ?? '',
    targetRefName: o.targetRef ?? '',
  };
}

export interface SliceOpts {
  ports?: PortSpec[];
  labels?: Record<string, string>;
  rv?: string;
}

/** An EndpointSlice for `service`. */
export function slice(namespace: string, name: string, service: string, endpoints: Endpoint[], o: SliceOpts = {}): EndpointSlice {
  const eps: EndpointPort[] = ports(o.ports ?? []);
  const v6 = endpoints[0]?.addresses[0]?.includes(':') ?? false;
  return {
    namespace,
    name,
    resourceVersion: o.rv ?? '1',
    labels: { 'kubernetes.io/service-name': service, ...(o.labels ?? {}) },
    serviceName: service,
    addressType: v6 ? 'IPv6' : 'IPv4',
    lastChangeTriggerTime: 0,
    ports: eps,
    // One row per address, as the slim converter expands them.
    ...rowsOf(endpoints.flatMap((e) => e.addresses.map((address) => ({ address, ready: e.ready, hostname: e.hostname, targetRefName: e.targetRefName })))),
  };
}

export interface PodOpts {
  phase?: string;
  terminating?: boolean;
  labels?: Record<string, string>;
  rv?: string;
}

/** A Pod. */
export function pod(namespace: string, name: string, podIP: string, o: PodOpts = {}): Pod {
  return {
    namespace,
    name,
    resourceVersion: o.rv ?? '1',
    labels: o.labels ?? {},
    podIP,
    phase: o.phase ?? 'Running',
    terminating: o.terminating ?? false,
  };
}

/** A model holding `snap`. */
export function modelOf(snap: Partial<Snapshot>): ClusterModel {
  const m = new ClusterModel();
  m.replace({ services: [], endpointSlices: [], namespaces: [], pods: [], ...snap });
  return m;
}

const HTTP: PortSpec = ['http', 'TCP', 80];

/**
 * The standard test cluster. Namespaces testns, kube-system, other, podns. The CoreDNS pod (10.244.0.10) backs
 * kube-system/kube-dns; 172.0.0.2 is an endpoint of both testns/hdls1 and other/svc-other.
 */
export function standardCluster(): Snapshot {
  return {
    namespaces: [ns('testns'), ns('kube-system'), ns('other', { team: 'b' }), ns('podns')],
    services: [
      svc('testns', 'svc1', { ips: ['10.0.0.1'], ports: [HTTP] }),
      svc('testns', 'svcempty', { ips: ['10.0.0.2'], ports: [HTTP] }),
      svc('testns', 'svc6', { ips: ['1234:abcd::1'], ports: [HTTP] }),
      svc('testns', 'dual', { ips: ['10.0.0.3', 'fd00::3'], ports: [HTTP] }),
      svc('testns', 'multiport', {
        ips: ['10.0.0.4'],
        ports: [HTTP, ['dns', 'UDP', 53], ['dns-tcp', 'TCP', 53], ['', 'TCP', 8080]],
      }),
      svc('testns', 'noports', { ips: ['10.0.0.5'] }),
      svc('testns', 'nodeport', { ips: ['10.0.0.6'], type: 'NodePort', ports: [HTTP] }),
      svc('testns', 'hdls1', { ips: 'None' }),
      svc('testns', 'hdlsprtls', { ips: 'None' }),
      svc('testns', 'hdlsnotready', { ips: 'None' }),
      svc('testns', 'hdls6only', { ips: 'None', ports: [HTTP] }),
      svc('testns', 'hdlsdedup', { ips: 'None' }),
      svc('testns', 'podnames', { ips: 'None' }),
      svc('testns', 'external', { externalName: 'ext.interwebs.test', ports: [HTTP] }),
      svc('testns', 'external-to-service', { externalName: 'svc1.testns.svc.cluster.local.' }),
      svc('testns', 'external-missing', { externalName: 'nosuch.testns.svc.cluster.local' }),
      svc('testns', 'external-ip', { externalName: '1.2.3.4' }),
      svc('testns', 'ext-loop1', { externalName: 'ext-loop2.testns.svc.cluster.local' }),
      svc('testns', 'ext-loop2', { externalName: 'ext-loop1.testns.svc.cluster.local' }),
      svc('testns', 'ext-self', { externalName: 'ext-self.testns.svc.cluster.local' }),
      svc('testns', 'ext-chain', { externalName: 'external.testns.svc.cluster.local' }),
      svc('kube-system', 'kube-dns', { ips: ['10.96.0.10'], ports: [['dns', 'UDP', 53], ['dns-tcp', 'TCP', 53]] }),
      svc('other', 'svc-other', { ips: ['10.0.1.1'], ports: [HTTP] }),
    ],
    endpointSlices: [
      slice('testns', 'svc1-abc', 'svc1', [ep('172.0.0.1', { hostname: 'ep1a' })], { ports: [HTTP] }),
      slice('testns', 'svcempty-abc', 'svcempty', [], { ports: [HTTP] }),
      slice(
        'testns',
        'hdls1-v4',
        'hdls1',
        [
          ep('172.0.0.2'),
          ep('172.0.0.3'),
          ep('172.0.0.4', { hostname: 'dup-name' }),
          ep('172.0.0.5', { hostname: 'dup-name' }),
        ],
        { ports: [HTTP] },
      ),
      slice('testns', 'hdls1-v6', 'hdls1', [ep('5678:abcd::1'), ep('5678:abcd::2')], { ports: [HTTP] }),
      slice('testns', 'hdlsprtls-abc', 'hdlsprtls', [ep('172.0.0.20')]),
      slice('testns', 'hdlsnotready-abc', 'hdlsnotready', [ep('172.0.0.30', { ready: false })], { ports: [HTTP] }),
      slice('testns', 'hdls6only-abc', 'hdls6only', [ep('fd00::10')], { ports: [HTTP] }),
      slice('testns', 'hdlsdedup-1', 'hdlsdedup', [ep('172.0.0.40'), ep('172.0.0.41')], { ports: [HTTP] }),
      slice('testns', 'hdlsdedup-2', 'hdlsdedup', [ep('172.0.0.41'), ep('172.0.0.42'), ep('172.0.0.43', { ready: false })], {
        ports: [HTTP],
      }),
      slice(
        'testns',
        'podnames-abc',
        'podnames',
        [
          ep('172.0.0.50', { targetRef: 'web-0' }),
          ep('172.0.0.51', { hostname: 'h1', targetRef: 'web-1' }),
          ep('172.0.0.52'),
          ep('2001:db8::', { targetRef: 'web-3' }),
        ],
        { ports: [HTTP] },
      ),
      slice('kube-system', 'kube-dns-abc', 'kube-dns', [ep('10.244.0.10', { targetRef: 'coredns-1' })], {
        ports: [['dns', 'UDP', 53], ['dns-tcp', 'TCP', 53]],
      }),
      slice('other', 'svc-other-abc', 'svc-other', [ep('172.0.0.2', { hostname: 'shared' })], { ports: [HTTP] }),
    ],
    pods: [
      pod('podns', 'pod1', '10.240.0.1'),
      pod('podns', 'pod6', 'fd00::1:1'),
      pod('podns', 'terminating', '10.240.0.9', { terminating: true }),
      pod('podns', 'done', '10.240.0.8', { phase: 'Succeeded' }),
      pod('testns', 'pod-x', '10.240.0.2'),
    ],
  };
}
