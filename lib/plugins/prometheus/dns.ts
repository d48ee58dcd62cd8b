/**
 * The per-query DNS metrics (CoreDNS plugin/metrics/vars): requests by transport, family and type, latency,
 * request and response sizes, responses by rcode and the plugin that wrote them, DO-bit requests. One observer per
 * server instance; label-bound cells are cached per (server, zone) so a query allocates nothing once warm.
 */
import { DROPPED_ZONE } from '../../server/dispatcher.js';
import type { Registry } from 'prom-client';
import { TYPE, rcodeName } from '../../dns/constants.js';
import type { QueryFacts, QueryObserver } from '../../plugin.js';
import { CounterVec, HistogramVec, type CounterCell, type HistogramCell } from './vec.js';

/** CoreDNS plugin/metrics/vars/monitor.go: qtypes counted by name; every other type is `other`. */
const MONITORED_TYPES: readonly number[] = [
  TYPE.A, TYPE.AAAA, TYPE.CNAME, TYPE.DNSKEY, TYPE.DS, TYPE.MX, TYPE.NSEC3, TYPE.NSEC, TYPE.NS, TYPE.PTR,
  TYPE.RRSIG, TYPE.SOA, TYPE.SRV, TYPE.TXT, TYPE.HTTPS, TYPE.SVCB, TYPE.IXFR, TYPE.AXFR, TYPE.ANY,
];
const TYPE_INDEX = new Map<number, number>(MONITORED_TYPES.map((t, i) => [t, i]));
const TYPE_LABELS: readonly string[] = [
  'A', 'AAAA', 'CNAME', 'DNSKEY', 'DS', 'MX', 'NSEC3', 'NSEC', 'NS', 'PTR',
  'RRSIG', 'SOA', 'SRV', 'TXT', 'HTTPS', 'SVCB', 'IXFR', 'AXFR', 'ANY', 'other',
];
const OTHER = TYPE_LABELS.length - 1;
const PROTOS = ['udp', 'tcp'] as const;
const FAMILIES = ['1', '2'] as const;

/** CoreDNS plugin.TimeBuckets: 0.00025 × 2^k, k = 0..15. */
export const TIME_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, k) => 0.00025 * 2 ** k);
/** CoreDNS request/response size buckets. */
export const SIZE_BUCKETS: readonly number[] = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];

// Set by the dispatcher on queries refused before any block ran.
export { DROPPED_ZONE };

/** Cells of one (server, zone) pair. */
interface Scope {
  server: string;
  zone: string;
  /** Indexed by (proto × 2 + family) × TYPE_LABELS.length + type. */
  requests: Array<CounterCell | undefined>;
  duration: HistogramCell;
  requestSize: [HistogramCell | undefined, HistogramCell | undefined];
  responseSize: [HistogramCell | undefined, HistogramCell | undefined];
  doRequests: CounterCell | undefined;
  /** plugin → rcode → cell. */
  responses: Map<string, Map<number, CounterCell>>;
}

/** `coredns_dns_*` on one registry, updated from every finished query of the zones it watches. */
export class DnsMetrics implements QueryObserver {
  /** Zones of the blocks that enabled `prometheus`; queries of other blocks are not counted, as in CoreDNS. */
  readonly zones = new Set<string>();
  private readonly requests: CounterVec;
  private readonly duration: HistogramVec;
  private readonly requestSize: HistogramVec;
  private readonly responseSize: HistogramVec;
  private readonly responses: CounterVec;
  private readonly doRequests: CounterVec;
  private readonly scopes = new Map<string, Map<string, Scope>>();

  constructor(reg: Registry) {
    this.requests = new CounterVec(reg, 'coredns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.', [
      'server', 'zone', 'view', 'proto', 'family', 'type',
    ]);
    this.duration = new HistogramVec(reg, 'coredns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took per zone.', [
      'server', 'zone', 'view',
    ], TIME_BUCKETS);
    this.requestSize = new HistogramVec(reg, 'coredns_dns_request_size_bytes', 'Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.', [
      'server', 'zone', 'view', 'proto',
    ], SIZE_BUCKETS);
    this.responseSize = new HistogramVec(reg, 'coredns_dns_response_size_bytes', 'Size of the returned response in bytes.', [
      'server', 'zone', 'view', 'proto',
    ], SIZE_BUCKETS);
    this.responses = new CounterVec(reg, 'coredns_dns_responses_total', 'Counter of response status codes.', [
      'server', 'zone', 'view', 'rcode', 'plugin',
    ]);
    this.doRequests = new CounterVec(reg, 'coredns_dns_do_requests_total', 'Counter of DNS requests with DO bit set per zone.', [
      'server', 'zone', 'view',
    ]);
  }

  /** Count one finished query. Never throws. */
  done(q: QueryFacts): void {
    const zone = q.zone;
    if (!this.zones.has(zone) && zone !== DROPPED_ZONE) return;
    const s = this.scope(q.server, zone);
    const p = q.proto === 'tcp' ? 1 : 0;
    const f = q.remote.family === 6 ? 1 : 0;
    const t = TYPE_INDEX.get(q.qtype) ?? OTHER;
    const ri = (p * 2 + f) * TYPE_LABELS.length + t;
    (s.requests[ri] ??= this.requests.cell(s.server, s.zone, '', PROTOS[p], FAMILIES[f], TYPE_LABELS[t]!)).value++;
    if (q.do) (s.doRequests ??= this.doRequests.cell(s.server, s.zone, '')).value++;
    this.duration.observe(s.duration, Number(process.hrtime.bigint() - q.start) / 1e9);
    this.requestSize.observe((s.requestSize[p] ??= this.requestSize.cell(s.server, s.zone, '', PROTOS[p])), q.raw.length);
    this.responseSize.observe((s.responseSize[p] ??= this.responseSize.cell(s.server, s.zone, '', PROTOS[p])), q.responseSize);
    const rcode = q.rcode;
    let byRcode = s.responses.get(q.writtenBy);
    if (byRcode === undefined) s.responses.set(q.writtenBy, (byRcode = new Map()));
    let cell = byRcode.get(rcode);
    if (cell === undefined) byRcode.set(rcode, (cell = this.responses.cell(s.server, s.zone, '', rcodeName(rcode), q.writtenBy)));
    cell.value++;
  }

  /** Count one reply the server's fast path replayed: the same counters as any query. */
  replayed(f: QueryFacts): void {
    this.done(f);
  }

  private scope(server: string, zone: string): Scope {
    let byZone = this.scopes.get(server);
    if (byZone === undefined) this.scopes.set(server, (byZone = new Map()));
    let s = byZone.get(zone);
    if (s === undefined) {
      s = {
        server,
        zone,
        requests: new Array<CounterCell | undefined>(PROTOS.length * FAMILIES.length * TYPE_LABELS.length),
        duration: this.duration.cell(server, zone, ''),
        requestSize: [undefined, undefined],
        responseSize: [undefined, undefined],
        doRequests: undefined,
        responses: new Map(),
      };
      byZone.set(zone, s);
    }
    return s;
  }
}
