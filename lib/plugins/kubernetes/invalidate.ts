/**
 * Which names a batch of cluster changes can affect, as name suffixes, so caches in the block can drop stale
 * answers the moment the zone changes (CoreDNS only lets them expire; users ask for this, see user-asks.md row 3).
 * Coarse on purpose: one suffix covers a service, its endpoint names and its SRV names.
 */
import { reverseName } from '../../dns/reverse.js';
import type { ChangeEvent } from '../../kube/types.js';

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
        for (const o of [e.obj, e.old]) {
          if (!o) continue;
          if (o.serviceName) under(`${o.serviceName}.${o.namespace}.svc`);
          o.addresses.forEach(ptr);
        }
        break;
      case 'Pod':
        for (const o of [e.obj, e.old]) if (o) (under(`${o.namespace}.pod`), o.podIP && ptr(o.podIP));
        break;
    }
  }
  return out;
}
