/**
 * THE run order of plugins, as CoreDNS's plugin.cfg fixes it: a query enters the chain at the first directive of a
 * block in this order, whatever order the Corefile lists them in. This is CoreDNS 1.14's full list so that a known
 * CoreDNS directive we do not ship gets a precise error instead of "unknown"; `SHIPPED` says which ones exist here.
 */
export const COREDNS_ORDER = [
  'root', 'metadata', 'geoip', 'cancel', 'tls', 'quic', 'grpc_server', 'https', 'https3', 'timeouts', 'multisocket',
  'reload', 'nsid', 'bufsize', 'bind', 'debug', 'trace', 'ready', 'health', 'pprof', 'prometheus', 'errors', 'log',
  'dnstap', 'local', 'dns64', 'acl', 'any', 'chaos', 'loadbalance', 'tsig', 'cache', 'rewrite', 'header', 'dnssec',
  'autopath', 'minimal', 'template', 'transfer', 'hosts', 'route53', 'azure', 'clouddns', 'k8s_external',
  'kubernetes', 'file', 'auto', 'secondary', 'etcd', 'loop', 'forward', 'grpc', 'erratic', 'whoami', 'on', 'sign',
  'view', 'nomad',
] as const;

export type CorednsDirective = (typeof COREDNS_ORDER)[number];

/** Position of a directive in the run order (lower runs first), or -1 when CoreDNS has no such plugin. */
export function orderOf(name: string): number {
  return (COREDNS_ORDER as readonly string[]).indexOf(name);
}
