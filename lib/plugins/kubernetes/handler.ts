/**
 * The kubernetes query handler: CoreDNS plugin/kubernetes/handler.go ServeDNS with the lookups of kubernetes.go
 * (Services, Records, findServices, findPods), reverse.go, ns.go and plugin/backend_lookup.go, answering from a
 * {@link ClusterZone}. Everything but ExternalName targets outside the zone is answered synchronously.
 */
import { FLAG, RCODE, TYPE } from '../../dns/constants.js';
import type { Message, RR } from '../../dns/message.js';
import { canonicalIP } from '../../dns/ip.js';
import { isSubdomain } from '../../dns/name.js';
import { ipFromReverseName } from '../../dns/reverse.js';
import type { Handler, MemoGuard, PluginEnv, Served } from '../../plugin.js';
import type { Query } from '../../query.js';
import type { ClusterZone } from '../../zone/cluster-zone.js';
import { dashedLabelIP, SERVICE_KIND, type ServiceRecords, type SrvSet } from '../../zone/service-records.js';
import { NAME_KIND, ParsedName, parseName, podIPText } from './qname.js';
import { abs, addressRR, cnameRR, isV6, nsRR, ptrRR, soaRR, srvRR, txtRR } from './records.js';
import type { PodMode } from './setup.js';

/** The handler's share of the plugin config. */
export interface HandlerOptions {
  /** Authoritative zones (lower case, absolute). */
  readonly zones: readonly string[];
  /** First non-reverse zone: PTR targets live there. */
  readonly primaryZone: string;
  readonly ttl: number;
  readonly pods: PodMode;
  readonly ignoreEmptyService: boolean;
  /** Zones NXDOMAIN falls through for; null: no fallthrough. */
  readonly fallthrough: readonly string[] | null;
  /** This server's own addresses, for NS records. */
  readonly localIPs: readonly string[];
}

/** The schema version of the Kubernetes DNS specification implemented (`dns-version.<zone>` TXT). */
export const DNS_SCHEMA_VERSION = '1.1.0';

/** How deep ExternalName targets are chased through the whole server before giving up (CoreDNS maxreentries). */
export const MAX_RESOLVE_DEPTH = 10;

// Outcome of a qtype branch: records (possibly none → NODATA) or a name error.
const OK = 0;
const NX = 1;

// Lookup results (CoreDNS Services/Records outcomes). The found objects are left in the handler's scratch fields.
const R_ERR = 1; // name error
const R_EMPTY = 2; // no error, no entries (apex-like, namespace only, ClusterIP without cluster IPs)
const R_CLUSTER = 3; // ClusterIP service name: #entry, #set (cluster set)
const R_ROWS = 4; // headless service name: #entry, #set
const R_ENDPOINT = 5; // endpoint name: #entry, #label
const R_EXTERNAL = 6; // ExternalName service: #entry
const R_POD = 7; // pod name: #podIP, #podCount
const R_NSDNS = 8; // ns.dns.<zone>

const TXT_TTL = 28800;

/** The `kubernetes` handler. */
export class KubernetesHandler implements Handler {
  readonly name = 'kubernetes';

  readonly #zones: readonly string[];
  readonly #opts: HandlerOptions;
  readonly #zone: ClusterZone;
  readonly #next: Handler | null;
  readonly #env: PluginEnv;
  readonly #synced: () => boolean;

  // Scratch filled by #records/#services and read right after, before anything is awaited or handed on.
  readonly #p = new ParsedName();
  #entry: ServiceRecords | undefined = undefined;
  #set: SrvSet | null = null;
  #label = '';
  #labelIP: string | null = null;
  #podIP = '';
  #podCount = 0;

  // Replay guards for the server's fast path (Query.memo). Answers under a name are dropped by the per-name
  // invalidation (invalidate.ts); what that does not cover is guarded by a stamp: the SOA serial in negative and
  // SOA answers, the zone version for answers built from other names (NS, ns.dns, in-zone ExternalName chains,
  // PTR, whose namespace filter follows Namespace changes that invalidate only forward names).
  readonly #byName: MemoGuard = { stamp: () => 0 };
  readonly #bySerial: MemoGuard;
  readonly #byVersion: MemoGuard;
  /** The guard of the answer being built: #byName unless a branch needs more; null: not replayable. */
  #guard: MemoGuard | null = null;

  constructor(opts: HandlerOptions, zone: ClusterZone, next: Handler | null, env: PluginEnv, synced: () => boolean) {
    this.#opts = opts;
    // Longest zone first, so the first match is CoreDNS's plugin.Zones.Matches.
    this.#zones = [...opts.zones].sort((a, b) => b.length - a.length);
    this.#zone = zone;
    this.#next = next;
    this.#env = env;
    this.#synced = synced;
    this.#bySerial = { stamp: () => zone.serial };
    this.#byVersion = { stamp: () => zone.version };
  }

  /** Answers a query in one of the plugin's zones; anything else goes to the next plugin. */
  serve(q: Query): Served {
    const zone = this.#match(q.name);
    if (zone === null) return this.#passOn(q);
    const qtype = q.qtype;
    // CoreDNS handler.go: transfers need the transfer plugin; the server writes REFUSED.
    if (qtype === TYPE.AXFR || qtype === TYPE.IXFR) return RCODE.REFUSED;

    const qn = q.question.name;
    // CoreDNS handler.go: `zone = qname[len(qname)-len(zone):]`, the zone as the client spelled it.
    const zs = qn.slice(qn.length - zone.length);
    const name = q.name;
    const rel = relative(name, zone);
    const m = q.newReply(RCODE.NOERROR, true);
    let out: number;
    this.#guard = this.#byName;

    switch (qtype) {
      case TYPE.A:
      case TYPE.AAAA:
        return this.#address(q, m, zone, zs, rel);
      case TYPE.TXT:
        out = this.#txt(q, m, rel);
        break;
      case TYPE.CNAME: {
        const r = this.#services(name, zs, rel);
        if (r === R_EXTERNAL) m.answer.push(cnameRR(qn, this.#opts.ttl, this.#entry!.externalTarget));
        out = r === R_ERR ? NX : OK;
        break;
      }
      case TYPE.PTR:
        this.#guard = this.#byVersion;
        out = this.#ptr(q, m, rel);
        break;
      case TYPE.SRV:
        out = this.#srv(q, m, zs, rel);
        break;
      case TYPE.SOA:
        // CoreDNS handler.go: only the zone itself (in any case) has the SOA; anything else is NODATA unchecked.
        if (qn === zs) m.answer.push(soaRR(zs, this.#opts.ttl, this.#zone.serial));
        this.#guard = this.#bySerial;
        out = OK;
        break;
      case TYPE.NS:
        // CoreDNS compares the lower-cased name with the query's spelling of the zone, so a mixed-case apex NS
        // query falls to the default branch (NODATA).
        if (name === zs) {
          this.#guard = this.#byVersion;
          this.#ns(m, qn, zs);
          out = OK;
          break;
        }
        out = this.#services(name, zs, rel) === R_ERR ? NX : OK;
        break;
      default:
        // MX and every other type (ANY, HINFO, CAA, ...): existence through an A lookup, never records.
        out = this.#services(name, zs, rel) === R_ERR ? NX : OK;
    }
    return this.#finish(q, m, zs, out);
  }

  #match(name: string): string | null {
    for (const z of this.#zones) if (isSubdomain(name, z)) return z;
    return null;
  }

  #passOn(q: Query): Served {
    if (this.#next === null) return q.fail(RCODE.SERVFAIL, 'plugin/kubernetes: no next plugin found');
    return this.#next.serve(q);
  }

  // CoreDNS handler.go tail: name errors fall through (if configured for the name), else become SERVFAIL while
  // unsynced or NXDOMAIN; no records is NODATA; both carry the SOA (plugin.BackendError).
  #finish(q: Query, m: Message, zs: string, out: number): Served {
    if (out === NX) {
      const fall = this.#opts.fallthrough;
      if (fall !== null && fallsThrough(q.name, fall)) return this.#passOn(q);
      return this.#negative(q, m, zs, this.#synced() ? RCODE.NXDOMAIN : RCODE.SERVFAIL);
    }
    if (m.answer.length === 0) return this.#negative(q, m, zs, RCODE.NOERROR);
    if (this.#guard !== null) q.memo = this.#guard;
    return q.reply(m, this.name);
  }

  #negative(q: Query, m: Message, zs: string, rcode: number): number {
    m.answer.length = 0;
    m.additional.length = 0;
    m.flags = (m.flags & ~0xf & ~FLAG.TC) | rcode;
    m.authority.push(soaRR(zs, this.#opts.ttl, this.#zone.serial));
    // SERVFAIL before the first sync is temporary; every other negative answer carries the serial.
    const g = this.#guard;
    if (g !== null && rcode !== RCODE.SERVFAIL) q.memo = g === this.#byVersion ? g : this.#bySerial;
    return q.reply(m, this.name);
  }

  /** CoreDNS kubernetes.go Services: `ns.dns.<zone>` first, then the name grammar. */
  #services(name: string, zs: string, rel: string): number {
    // CoreDNS ns.go isDefaultNS compares the lower-cased name with the zone as spelled in the query.
    if (name.startsWith('ns.dns.') && name.indexOf(zs) === 7) {
      // Its addresses come from whichever Service holds this server's IPs: only the zone version covers them.
      this.#guard = this.#byVersion;
      return R_NSDNS;
    }
    return this.#records(name, rel);
  }

  /** CoreDNS kubernetes.go Records. */
  #records(name: string, rel: string): number {
    const p = this.#p;
    parseName(rel, p);
    if (p.kind === NAME_KIND.APEX) return R_EMPTY;
    if (p.kind === NAME_KIND.INVALID) return R_ERR;
    // A well-formed name inside a reverse zone (`x.svc.in-addr.arpa.`) is still no service.
    if (name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.')) return R_ERR;
    if (!this.#zone.namespaceExposed(p.namespace)) return R_ERR;
    return p.kind === NAME_KIND.POD ? this.#findPod(p) : this.#findService(p);
  }

  #findService(p: ParsedName): number {
    if (p.service === '') return R_EMPTY;
    const e = this.#zone.service(p.key);
    if (e === undefined) return R_ERR;
    this.#entry = e;
    switch (e.kind) {
      case SERVICE_KIND.CLUSTER_IP:
        // `ignore empty_service`: a ClusterIP service without ready addresses does not exist.
        if (this.#opts.ignoreEmptyService && e.readyCount === 0) return R_ERR;
        if (p.endpoint !== '') return this.#endpoint(e, p.endpoint);
        this.#set = e.portSet(p.port, p.proto);
        return this.#set === null ? R_ERR : R_CLUSTER;
      case SERVICE_KIND.HEADLESS:
        if (p.endpoint !== '') return this.#endpoint(e, p.endpoint);
        this.#set = e.portSet(p.port, p.proto);
        return this.#set === null ? R_ERR : R_ROWS;
      case SERVICE_KIND.EXTERNAL:
        // No endpoints and no `_port._proto` below an ExternalName service.
        return p.endpoint !== '' || p.port !== '' || p.proto !== '' ? R_ERR : R_EXTERNAL;
      default:
        return R_ERR;
    }
  }

  #endpoint(e: ServiceRecords, label: string): number {
    const ip = dashedLabelIP(label);
    if (!e.hasEndpoint(label, ip)) return R_ERR;
    this.#label = label;
    this.#labelIP = ip;
    return R_ENDPOINT;
  }

  // CoreDNS kubernetes.go findPods. Extra labels left of the pod name are ignored, as CoreDNS does.
  #findPod(p: ParsedName): number {
    const mode = this.#opts.pods;
    if (mode === 'disabled') return R_ERR;
    if (p.service === '') return R_EMPTY;
    const text = podIPText(p.service);
    if (mode === 'insecure') {
      const ip = canonicalIP(text);
      if (ip === null) return R_ERR;
      this.#podIP = ip;
      this.#podCount = 1;
      return R_POD;
    }
    // verified: a Pod in that namespace whose status.podIP is exactly this text.
    const b = this.#zone.podsAt(text);
    if (b === undefined) return R_ERR;
    let n = 0;
    if (Array.isArray(b)) {
      for (const pod of b) if (pod.namespace === p.namespace) n++;
    } else if ((b as { namespace: string }).namespace === p.namespace) n = 1;
    if (n === 0) return R_ERR;
    this.#podIP = text;
    this.#podCount = n;
    return R_POD;
  }

  // A and AAAA (CoreDNS backend_lookup.go A/AAAA).
  #address(q: Query, m: Message, zone: string, zs: string, rel: string): Served {
    const r = this.#services(q.name, zs, rel);
    if (r === R_ERR) return this.#finish(q, m, zs, NX);
    if (r === R_EXTERNAL) return this.#external(q, m, zone, zs);
    this.#addresses(r, m.answer, q.question.name, zs, q.qtype === TYPE.AAAA);
    return this.#finish(q, m, zs, OK);
  }

  /** Appends the address records lookup result `r` yields for the wanted family. */
  #addresses(r: number, out: RR[], owner: string, zs: string, v6: boolean): void {
    const ttl = this.#opts.ttl;
    switch (r) {
      case R_CLUSTER:
        for (const ip of this.#entry!.clusterIPs) if (isV6(ip) === v6) out.push(addressRR(owner, ttl, ip));
        return;
      case R_ROWS: {
        const ips = this.#entry!.rowIP;
        for (const row of this.#set!.addrRows) {
          const ip = ips[row]!;
          if (isV6(ip) === v6) out.push(addressRR(owner, ttl, ip));
        }
        return;
      }
      case R_ENDPOINT: {
        const e = this.#entry!;
        const label = this.#label;
        const labelIP = this.#labelIP;
        const start = out.length;
        for (let i = 0; i < e.rowIP.length; i++) {
          if (!e.rowMatches(i, label, labelIP)) continue;
          const ip = e.rowIP[i]!;
          if (isV6(ip) === v6 && !hasData(out, start, ip)) out.push(addressRR(owner, ttl, ip));
        }
        return;
      }
      case R_POD:
        if (isV6(this.#podIP) === v6) out.push(addressRR(owner, ttl, this.#podIP));
        return;
      case R_NSDNS: {
        const start = out.length;
        for (const a of this.#zone.nsAddresses(this.#opts.localIPs)) {
          if (isV6(a.ip) === v6 && !hasData(out, start, a.ip)) out.push(addressRR(owner, ttl, a.ip));
        }
        return;
      }
      default:
    }
  }

  /**
   * ExternalName A/AAAA: CNAME to the target, then the target's addresses. Targets inside the zone are followed
   * here (chains of up to 8 CNAMEs; a loop or a missing target leaves NODATA); any other target is resolved through
   * the whole server and its answer appended as is, TC included (CoreDNS backend_lookup.go A/AAAA, upstream).
   */
  #external(q: Query, m: Message, zone: string, zs: string): Served {
    const ttl = this.#opts.ttl;
    const v6 = q.qtype === TYPE.AAAA;
    let owner = q.question.name;
    let name = q.name;
    let e = this.#entry!;
    // The chain's targets are other names, whose changes do not invalidate this one.
    this.#guard = this.#byVersion;
    for (;;) {
      const target = e.externalTarget;
      const tl = e.externalTargetLower;
      // plugin.Name.Matches: `x CNAME x`, or a target below the name itself, would loop.
      if (isSubdomain(tl, name) || m.answer.length > 7 || isDuplicateCname(m.answer, owner, target)) break;
      m.answer.push(cnameRR(owner, ttl, target));
      if (!isSubdomain(tl, zone)) return this.#upstream(q, m, zs, target);
      const r = this.#services(tl, zs, relative(tl, zone));
      if (r === R_EXTERNAL) {
        owner = target;
        name = tl;
        e = this.#entry!;
        continue;
      }
      if (r !== R_ERR) {
        const before = m.answer.length;
        this.#addresses(r, m.answer, target, zs, v6);
        if (m.answer.length > before) return this.#finish(q, m, zs, OK);
      }
      break;
    }
    // Nothing at the end of the chain: CoreDNS drops the CNAMEs and answers NODATA.
    m.answer.length = 0;
    return this.#finish(q, m, zs, OK);
  }

  async #upstream(q: Query, m: Message, zs: string, target: string): Promise<number> {
    // Past the re-entry limit CoreDNS's server answers SERVFAIL to itself, which leaves the CNAME alone.
    if (q.depth < MAX_RESOLVE_DEPTH) {
      const reply = await this.#env.resolve(target, q.qtype, q);
      for (const rr of reply.answer) m.answer.push(rr);
      if ((reply.flags & FLAG.TC) !== 0) m.flags |= FLAG.TC;
    }
    // An upstream answer (with its own TTLs) is not replayable; the scratch guard may belong to another query now.
    this.#guard = null;
    return this.#finish(q, m, zs, OK);
  }

  // CoreDNS kubernetes.go Services, TXT branch: dns-version, else NODATA for names with records, NXDOMAIN for the
  // rest, including the apex, `svc`, `pod` and `<ns>.svc` (Records yields nothing there).
  #txt(q: Query, m: Message, rel: string): number {
    if (rel === 'dns-version') {
      m.answer.push(txtRR(q.question.name, TXT_TTL, DNS_SCHEMA_VERSION));
      return OK;
    }
    switch (this.#records(q.name, rel)) {
      case R_CLUSTER:
        return this.#set!.candidates > 0 ? OK : NX;
      case R_ROWS:
      case R_ENDPOINT:
      case R_EXTERNAL:
      case R_POD:
        return OK;
      default:
        return NX;
    }
  }

  // CoreDNS reverse.go Reverse: a reverse name answers from the IP indexes; any other name only exists or not.
  #ptr(q: Query, m: Message, rel: string): number {
    const ip = ipFromReverseName(q.name);
    if (ip === null) return this.#records(q.name, rel) === R_ERR ? NX : OK;
    const targets = this.#zone.ptrTargets(ip);
    if (targets.length === 0) return NX;
    const owner = q.question.name;
    const ttl = this.#opts.ttl;
    const primary = this.#opts.primaryZone;
    for (const t of targets) m.answer.push(ptrRR(owner, ttl, abs(t, primary)));
    return OK;
  }

  // CoreDNS backend_lookup.go SRV over the entries of findServices/findPods.
  #srv(q: Query, m: Message, zs: string, rel: string): number {
    const r = this.#services(q.name, zs, rel);
    switch (r) {
      case R_ERR:
        return NX;
      case R_CLUSTER:
      case R_ROWS:
        this.#renderSet(m, q.question.name, zs, this.#entry!, this.#set!);
        return OK;
      case R_ENDPOINT: {
        const set = this.#entry!.endpointSet(this.#label, this.#labelIP);
        if (set !== null) this.#renderSet(m, q.question.name, zs, this.#entry!, set);
        return OK;
      }
      case R_POD: {
        // A pod entry has port 0 and the pod name as host: CoreDNS answers `0 100 0 <pod>.<ns>.pod.<zone>`.
        const ttl = this.#opts.ttl;
        const p = this.#p;
        const target = abs(`${p.service}.${p.namespace}.pod.`, zs);
        const weight = Math.max(1, Math.floor(100 / this.#podCount));
        m.answer.push(srvRR(q.question.name, ttl, weight, 0, target));
        m.additional.push(addressRR(target, ttl, this.#podIP));
        return OK;
      }
      default:
        // ExternalName (SRV not implemented for it in CoreDNS), apex-like names, ns.dns: NODATA.
        return OK;
    }
  }

  #renderSet(m: Message, owner: string, zs: string, e: ServiceRecords, set: SrvSet): void {
    const ttl = this.#opts.ttl;
    const rows = set.srvRows;
    const svcName = abs(e.rel, zs);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const target = row < 0 ? svcName : abs(`${e.nameAt(row)}.${e.rel}`, zs);
      m.answer.push(srvRR(owner, ttl, set.weight, set.srvPorts[i]!, target));
    }
    if (set.cluster) {
      if (rows.length > 0) for (const ip of e.clusterIPs) m.additional.push(addressRR(svcName, ttl, ip));
      return;
    }
    for (const row of set.extraRows) m.additional.push(addressRR(abs(`${e.nameAt(row)}.${e.rel}`, zs), ttl, e.rowIP[row]!));
  }

  // CoreDNS backend_lookup.go NS with kubernetes.go Services(NS): NS names deduplicated, glue not.
  #ns(m: Message, owner: string, zs: string): void {
    const ttl = this.#opts.ttl;
    for (const a of this.#zone.nsAddresses(this.#opts.localIPs)) {
      const target = abs(a.rel, zs);
      m.additional.push(addressRR(target, ttl, a.ip));
      if (!hasData(m.answer, 0, target)) m.answer.push(nsRR(owner, ttl, target));
    }
  }
}

/** `name` without `zone` and the dot between them ('' for the zone itself); both lower case and absolute. */
function relative(name: string, zone: string): string {
  if (zone === '.') return name === '.' ? '' : name.slice(0, -1);
  return name.length === zone.length ? '' : name.slice(0, name.length - zone.length - 1);
}

// CoreDNS plugin/pkg/fall F.Through.
function fallsThrough(name: string, zones: readonly string[]): boolean {
  for (const z of zones) if (isSubdomain(name, z)) return true;
  return false;
}

function hasData(out: readonly RR[], from: number, data: string): boolean {
  for (let i = from; i < out.length; i++) if (out[i]!.data === data) return true;
  return false;
}

// CoreDNS dnsutil.DuplicateCNAME: the same owner and target already in the chain.
function isDuplicateCname(chain: readonly RR[], owner: string, target: string): boolean {
  for (const rr of chain) if (rr.type === TYPE.CNAME && rr.name === owner && rr.data === target) return true;
  return false;
}
