/**
 * Every question worth asking about a fixture cluster (a `kind: List` of Namespaces, Services, EndpointSlices, Pods
 * as kubectl prints it): service, endpoint, SRV, PTR and pod names, the zone's special names, search-path and
 * out-of-zone misses. Built from the raw objects, independently of lib/, for tests that walk a whole cluster.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

/** One question: name (absolute, lower case) and type mnemonic. */
export interface Question {
  name: string;
  type: string;
}

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { clusterIPs?: string[]; clusterIP?: string; ports?: Array<{ name?: string; protocol?: string }>; type?: string };
  endpoints?: Array<{ addresses: string[]; hostname?: string }>;
  ports?: Array<{ name?: string; protocol?: string }>;
  status?: { podIP?: string };
}

/** Read a `kind: List` fixture file (YAML or JSON). */
export function readList(file: string): Obj[] {
  const text = readFileSync(file, 'utf8');
  const doc = (file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text)) as { items: Obj[] };
  return doc.items;
}

// The PTR owner of an address: in-addr.arpa for IPv4, nibbles under ip6.arpa for IPv6.
function reverse(ip: string): string {
  if (ip.includes('.')) return `${ip.split('.').reverse().join('.')}.in-addr.arpa.`;
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const hex = groups.map((g) => g.padStart(4, '0')).join('');
  return `${[...hex].reverse().join('.')}.ip6.arpa.`;
}

/**
 * Questions for every object of `items` under `zone`, each name asked with `types`. Deterministic order; the
 * caller can subsample.
 */
export function clusterQuestions(items: readonly Obj[], zone = 'cluster.local.'): Question[] {
  const names = new Set<string>();
  const ptrs = new Set<string>();
  const srv = new Set<string>();
  const services = new Map<string, Obj>();
  for (const o of items) {
    const ns = o.metadata.namespace ?? '';
    switch (o.kind) {
      case 'Namespace':
        names.add(`${o.metadata.name}.svc.${zone}`);
        names.add(`${o.metadata.name}.pod.${zone}`);
        break;
      case 'Service': {
        services.set(`${ns}/${o.metadata.name}`, o);
        const base = `${o.metadata.name}.${ns}.svc.${zone}`;
        names.add(base);
        names.add(`${base}${ns}.svc.${zone}`); // search-path expansion (ndots:5)
        names.add(`${o.metadata.name}.${ns}.svc.svc.${zone}`);
        for (const ip of o.spec?.clusterIPs ?? (o.spec?.clusterIP ? [o.spec.clusterIP] : [])) if (ip !== 'None') ptrs.add(reverse(ip));
        for (const p of o.spec?.ports ?? []) if (p.name) srv.add(`_${p.name}._${(p.protocol ?? 'TCP').toLowerCase()}.${base}`);
        srv.add(`_nope._tcp.${base}`);
        break;
      }
      case 'EndpointSlice': {
        const svc = o.metadata.labels?.['kubernetes.io/service-name'];
        if (!svc) break;
        const base = `${svc}.${ns}.svc.${zone}`;
        for (const e of o.endpoints ?? []) {
          for (const a of e.addresses) {
            ptrs.add(reverse(a));
            names.add(`${a.replaceAll('.', '-').replaceAll(':', '-')}.${base}`);
          }
          if (e.hostname) {
            names.add(`${e.hostname}.${base}`);
            for (const p of o.ports ?? []) if (p.name) srv.add(`_${p.name}._${(p.protocol ?? 'TCP').toLowerCase()}.${e.hostname}.${base}`);
          }
        }
        break;
      }
      case 'Pod':
        if (o.status?.podIP) {
          names.add(`${o.status.podIP.replaceAll('.', '-').replaceAll(':', '-')}.${ns}.pod.${zone}`);
          ptrs.add(reverse(o.status.podIP));
        }
        break;
    }
  }
  for (const n of [zone, `svc.${zone}`, `pod.${zone}`, `ns.dns.${zone}`, `dns-version.${zone}`, `nope.${zone}`, `a.b.c.d.e.f.${zone}`, `www.example.com.${zone}`]) names.add(n);
  ptrs.add('in-addr.arpa.');
  ptrs.add('10.in-addr.arpa.');
  ptrs.add('99.99.99.99.in-addr.arpa.');
  const out: Question[] = [];
  const every = ['A', 'AAAA', 'SRV', 'TXT', 'CNAME', 'PTR', 'NS', 'SOA', 'MX', 'ANY', 'HINFO', 'CAA', 'AXFR'];
  for (const name of names) for (const type of every) out.push({ name, type });
  for (const name of srv) for (const type of ['SRV', 'A', 'AAAA']) out.push({ name, type });
  for (const name of ptrs) for (const type of ['PTR', 'A', 'SOA', 'NS']) out.push({ name, type });
  return out;
}
