/**
 * Which names a batch of cluster changes can affect, as name suffixes, so caches in the block can drop stale
 * answers the moment the zone changes (CoreDNS only lets them expire; users ask for this, see user-asks.md row 3).
 * Coarse on purpose: one suffix covers a service, its endpoint names and its SRV names.
 */
import { reverseName } from '../../dns/reverse.js';
import { hostnameAt, targetRefNameAt } from '../../kube/endpoint-rows.js';
import type { ChangeEvent, EndpointSlice } from '../../kube/types.js';

/** Suffixes (lower case, absolute) whose answers may have changed, for the plugin's zones. */
export function affectedSuffixes(events: readonly ChangeEvent[], zones: readonly string[]): Set<string> {
  const out = new Set<string>();
  const forward = zones.filter((z) => !z.endsWith('in-addr.arpa.') && !z.endsWith('ip6.arpa.'));
  const under = (rel: string): void => {
    // The root zone (`kubernetes` in a `.` block without zone arguments) must not produce `name..`.
    for (const z of forward) out.add(z === '.' ? `${rel}.` : `${rel}.${z}`);
  };
  const ptr = (addr: string): void => {
    // 'None' (headless) and other non-addresses have no reverse name.
    if (addr.includes('.') || addr.includes(':')) out.add(reverseName(addr));
  };
  for (const e of events) {
    switch (e.kind) {
      case 'Namespace':
        for (const o of [e.obj, e.old]) if (o) (under(`${o.name}.svc`), under(`${o.name}.pod`));
        break;
      case 'Service':
        for (const o of [e.obj, e.old]) if (o) (under(`${o.name}.${o.namespace}.svc`), o.clusterIPs.forEach(ptr));
        break;
      case 'EndpointSlice':
        for (const o of [e.obj, e.old]) if (o?.serviceName) under(`${o.serviceName}.${o.namespace}.svc`);
        // A slice update usually moves one endpoint of many: only the addresses whose endpoints changed have new
        // PTR answers, and each reverse name costs every cache in the block a purge.
        if (e.obj && e.old && sameOwner(e.old, e.obj)) changedAddresses(e.old, e.obj).forEach(ptr);
        else for (const o of [e.obj, e.old]) if (o) o.addresses.forEach(ptr);
        break;
      case 'Pod':
        for (const o of [e.obj, e.old]) if (o) (under(`${o.namespace}.pod`), o.podIP && ptr(o.podIP));
        break;
    }
  }
  return out;
}

// Both versions of a slice belong to the same Service and are visible alike, so an address's PTR answer depends only
// on the endpoints holding it.
function sameOwner(a: EndpointSlice, b: EndpointSlice): boolean {
  if (a.namespace !== b.namespace || a.serviceName !== b.serviceName || a.addressType !== b.addressType) return false;
  const ka = Object.keys(a.labels);
  if (ka.length !== Object.keys(b.labels).length) return false;
  return ka.every((k) => a.labels[k] === b.labels[k]);
}

/**
 * The addresses of `a` or `b` whose endpoints differ between them in what a PTR answer is made of (readiness,
 * hostname, Pod name): those added, removed or changed.
 */
export function changedAddresses(a: EndpointSlice, b: EndpointSlice): string[] {
  const holders = (s: EndpointSlice): Map<string, string> => {
    const m = new Map<string, string>();
    const notReady = new Set(s.notReady);
    for (let r = 0; r < s.addresses.length; r++) {
      const addr = s.addresses[r]!;
      const sig = `${notReady.has(r) ? 0 : 1}/${hostnameAt(s, r)}/${targetRefNameAt(s, r)}`;
      // An address held by several endpoints: their signatures, in order (a reordering counts as a change).
      m.set(addr, m.has(addr) ? `${m.get(addr)}|${sig}` : sig);
    }
    return m;
  };
  const before = holders(a);
  const after = holders(b);
  const out: string[] = [];
  for (const [addr, sig] of before) if (after.get(addr) !== sig) out.push(addr);
  for (const addr of after.keys()) if (!before.has(addr)) out.push(addr);
  return out;
}
