/**
 * Helpers for the end-to-end tests (test/e2e): where the repository and the demo fixture are, dig-like
 * presentation of dns-packet replies, raw Kubernetes manifests for temporary fixture folders, free ports and polling.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type dnsPacket from 'dns-packet';

/** Absolute path of the repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Absolute path of the demo fixture folder. */
export const DEMO_DIR = path.join(REPO_ROOT, 'fixtures', 'demo');

type AnyRecord = dnsPacket.Answer & { ttl?: number; data?: unknown };

/** The rdata of a decoded record as dig prints it (names without the trailing dot). */
export function rdata(a: AnyRecord): string {
  const d = a.data as Record<string, unknown> | string | Buffer[] | undefined;
  switch (a.type) {
    case 'SRV': {
      const s = d as { priority: number; weight: number; port: number; target: string };
      return `${s.priority} ${s.weight} ${s.port} ${s.target}`;
    }
    case 'SOA': {
      const s = d as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      return `${s.mname} ${s.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case 'TXT':
      return (d as Buffer[]).map((b) => JSON.stringify(b.toString('utf8'))).join(' ');
    default:
      return typeof d === 'string' ? d : JSON.stringify(d);
  }
}

/**
 * A section as sorted `owner ttl TYPE rdata` lines (OPT left out). `ttl: false` drops the TTL column.
 */
export function section(p: dnsPacket.DecodedPacket, which: 'answers' | 'authorities' | 'additionals', o: { ttl?: boolean; sort?: boolean } = {}): string[] {
  const lines = ((p[which] ?? []) as AnyRecord[])
    .filter((a) => a.type !== 'OPT')
    .map((a) => (o.ttl === false ? `${a.name} ${a.type} ${rdata(a)}` : `${a.name} ${a.ttl} ${a.type} ${rdata(a)}`));
  return o.sort === false ? lines : lines.sort();
}

/** The SOA record of a section, decoded, or undefined. */
export function soaOf(p: dnsPacket.DecodedPacket, which: 'answers' | 'authorities' = 'authorities'): (dnsPacket.SoaAnswer & { ttl: number }) | undefined {
  return (p[which] ?? []).find((a) => a.type === 'SOA') as (dnsPacket.SoaAnswer & { ttl: number }) | undefined;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `clusterdns-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A Namespace manifest (one YAML document). */
export function namespaceYaml(name: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels:
    kubernetes.io/metadata.name: ${name}
`;
}

/** `[name, protocol, port]` of a Service or EndpointSlice port. */
export type Port = [string, string, number];

/** A Service manifest: ClusterIP with `ip`, or headless with ip 'None'. */
export function serviceYaml(ns: string, name: string, ip: string, ports: Port[]): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  type: ClusterIP
  clusterIP: ${ip}
  clusterIPs:
  - ${ip}
  ports:
${ports.map(([n, proto, port]) => `  - name: ${n}\n    protocol: ${proto}\n    port: ${port}\n    targetPort: ${port}`).join('\n')}
`;
}

/** An endpoint of {@link sliceYaml}: its address, readiness and optional hostname. */
export interface EndpointSpec {
  ip: string;
  ready?: boolean;
  hostname?: string;
}

/** An EndpointSlice manifest (IPv4) for Service `service`. */
export function sliceYaml(ns: string, name: string, service: string, endpoints: EndpointSpec[], ports: Port[]): string {
  const eps = endpoints
    .map((e) => `- addresses:\n  - ${e.ip}\n  conditions:\n    ready: ${e.ready ?? true}\n${e.hostname ? `  hostname: ${e.hostname}\n` : ''}`)
    .join('');
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    kubernetes.io/service-name: ${service}
addressType: IPv4
endpoints:
${eps}ports:
${ports.map(([n, proto, port]) => `- name: ${n}\n  protocol: ${proto}\n  port: ${port}`).join('\n')}
`;
}

/** Join manifests into one multi-document YAML file. */
export function yamlDocs(...docs: string[]): string {
  return docs.map((d) => `---\n${d}`).join('');
}

/** A port free on 127.0.0.1 for both UDP and TCP at the time of the call. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcpOk = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (tcpOk) return port;
  }
  throw new Error('no free UDP+TCP port found');
}

/** Poll `check` every `everyMs` until it returns true or `timeoutMs` passes; resolves with success and elapsed ms. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs = 3000, everyMs = 50): Promise<{ ok: boolean; ms: number }> {
  const began = Date.now();
  for (;;) {
    if (await check()) return { ok: true, ms: Date.now() - began };
    if (Date.now() - began >= timeoutMs) return { ok: false, ms: Date.now() - began };
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
