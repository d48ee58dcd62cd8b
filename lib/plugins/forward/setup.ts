/**
 * Corefile syntax of `forward FROM TO... { ... }` (CoreDNS plugin/forward/setup.go parseStanza/parseBlock). Each
 * occurrence is its own config; several `forward` lines in one block chain to one another.
 */
import { argErr, noBlock, parseDuration, parseIntArg, unknownProperty } from '../../corefile/args.js';
import { isDomainName, normalizeZone, normalizeZones } from '../../corefile/keys.js';
import { ConfigError, type Directive, type Token } from '../../corefile/types.js';
import { RCODE } from '../../dns/constants.js';
import { expandTo, upstreamAddr, type UpstreamAddr } from './to.js';

const PLUGIN = 'forward';

/** Upstream selection order per query (CoreDNS policy.go). */
export type PolicyName = 'random' | 'round_robin' | 'sequential';

/** The parsed `forward` directive. Durations are milliseconds. */
export interface ForwardConfig {
  /** The zone forwarded (first zone when FROM is a CIDR expanding to several). */
  from: string;
  /** `except` zones, normalised. */
  except: string[];
  /** Upstreams in configuration order, duplicates removed. */
  upstreams: UpstreamAddr[];
  forceTcp: boolean;
  preferUdp: boolean;
  /** Idle TCP connection expiry (`expire`, default 10s). */
  expireMs: number;
  /** Idle TCP connections kept per upstream (`max_idle_conns`, 0 = no limit). */
  maxIdleConns: number;
  /** Oldest a TCP connection may be before it is no longer reused (`max_age`, 0 = no limit). */
  maxAgeMs: number;
  /** Per-exchange read timeout (`read_timeout`, default 2s). */
  readTimeoutMs: number;
  /** Upstream is down when its failed probes exceed this (`max_fails`, default 2; 0 = never down). */
  maxFails: number;
  /** Connect attempts per query; null = 2 × number of upstreams; 0 = no cap. */
  maxConnectAttempts: number | null;
  /** Health-check probe interval (`health_check`, default 0.5s). */
  healthCheckMs: number;
  /** RD bit of probes (`no_rec` clears it). */
  healthCheckRecursion: boolean;
  /** Probe name (`health_check ... domain NAME`, default the root). */
  healthCheckDomain: string;
  policy: PolicyName;
  /** In-flight query limit (`max_concurrent`, 0 = none). */
  maxConcurrent: number;
  /** Rcodes that hand the query to the next forward (`next`). */
  next: number[];
  /** NOERROR without answers also hands over (`next_on_nodata`). */
  nextOnNoData: boolean;
  /** Rcodes that make the next upstream be tried (`failover`). */
  failover: number[];
  failfastAllUnhealthy: boolean;
  /** Local address outgoing sockets bind to (`source_address`), or null. */
  sourceAddress: string | null;
}

/** CoreDNS plugin/forward setup.go: at most 15 upstreams after expansion. */
export const MAX_UPSTREAMS = 15;

const DEFAULTS = {
  expireMs: 10_000,
  readTimeoutMs: 2_000,
  maxFails: 2,
  healthCheckMs: 500,
} as const;

/** Rcode names as miekg/dns StringToRcode knows them (upper case). */
const RCODE_BY_NAME: ReadonlyMap<string, number> = new Map<string, number>([
  ...Object.entries(RCODE),
  ['NXRRSET', RCODE.NXRRSET],
  ['BADSIG', 16],
  ['BADKEY', 17],
  ['BADTIME', 18],
  ['BADMODE', 19],
  ['BADNAME', 20],
  ['BADALG', 21],
  ['BADTRUNC', 22],
  ['BADCOOKIE', 23],
]);

function one(line: Directive): Token {
  if (line.args.length !== 1) argErr(line, PLUGIN);
  return line.args[0]!;
}

function none(line: Directive): void {
  if (line.args.length !== 0) argErr(line, PLUGIN);
}

function duration(tok: Token, option: string): number {
  const ms = parseDuration(tok, PLUGIN);
  if (ms < 0) throw new ConfigError(tok, `${option} can't be negative: ${tok.text}`, PLUGIN);
  return ms;
}

function count(tok: Token, option: string): number {
  const n = parseIntArg(tok, PLUGIN);
  if (n < 0) throw new ConfigError(tok, `${option} can't be negative: ${n}`, PLUGIN);
  return n;
}

function rcodes(line: Directive, option: string, allowNoError: boolean): number[] {
  if (line.args.length === 0) argErr(line, PLUGIN);
  const out: number[] = [];
  for (const tok of line.args) {
    const rc = RCODE_BY_NAME.get(tok.text.toUpperCase());
    if (rc === undefined) throw new ConfigError(tok, `${tok.text} is not a valid rcode`, PLUGIN);
    if (!allowNoError && rc === RCODE.NOERROR) {
      throw new ConfigError(tok, `NOERROR cannot be used as a ${option} rcode`, PLUGIN);
    }
    if (!out.includes(rc)) out.push(rc);
  }
  return out;
}

/** Parse one `forward` directive. Reads resolv.conf-style TO files (as CoreDNS does at setup). */
export function parse(d: Directive): ForwardConfig {
  if (d.args.length < 2) argErr(d, PLUGIN);
  const fromTok = d.args[0]!;
  // CoreDNS: a CIDR FROM expanding to several reverse zones uses only the first one.
  const from = normalizeZones([fromTok], PLUGIN)[0]!;

  const upstreams: UpstreamAddr[] = [];
  for (const tok of d.args.slice(1)) {
    for (const u of expandTo(tok)) if (!upstreams.some((x) => x.label === u.label)) upstreams.push(u);
  }
  if (upstreams.length === 0) throw new ConfigError(d.name, 'no nameservers found', PLUGIN);
  if (upstreams.length > MAX_UPSTREAMS) {
    throw new ConfigError(d.name, `more than ${MAX_UPSTREAMS} TOs configured: ${upstreams.length}`, PLUGIN);
  }

  const cfg: ForwardConfig = {
    from,
    except: [],
    upstreams,
    forceTcp: false,
    preferUdp: false,
    expireMs: DEFAULTS.expireMs,
    maxIdleConns: 0,
    maxAgeMs: 0,
    readTimeoutMs: DEFAULTS.readTimeoutMs,
    maxFails: DEFAULTS.maxFails,
    maxConnectAttempts: null,
    healthCheckMs: DEFAULTS.healthCheckMs,
    healthCheckRecursion: true,
    healthCheckDomain: '.',
    policy: 'random',
    maxConcurrent: 0,
    next: [],
    nextOnNoData: false,
    failover: [],
    failfastAllUnhealthy: false,
    sourceAddress: null,
  };

  for (const line of d.block ?? []) {
    noBlock(line, PLUGIN);
    const opt = line.name.text;
    switch (opt) {
      case 'except':
        if (line.args.length === 0) argErr(line, PLUGIN);
        for (const z of normalizeZones(line.args, PLUGIN)) if (!cfg.except.includes(z)) cfg.except.push(z);
        break;
      case 'force_tcp':
        none(line);
        cfg.forceTcp = true;
        break;
      case 'prefer_udp':
        none(line);
        cfg.preferUdp = true;
        break;
      case 'expire':
        cfg.expireMs = duration(one(line), opt);
        break;
      case 'max_idle_conns':
        cfg.maxIdleConns = count(one(line), opt);
        break;
      case 'max_age':
        cfg.maxAgeMs = duration(one(line), opt);
        break;
      case 'read_timeout': {
        const ms = duration(one(line), opt);
        if (ms === 0) throw new ConfigError(line.args[0]!, 'read_timeout must be positive', PLUGIN);
        cfg.readTimeoutMs = ms;
        break;
      }
      case 'max_fails':
        cfg.maxFails = count(one(line), opt);
        break;
      case 'max_connect_attempts':
        cfg.maxConnectAttempts = count(one(line), opt);
        break;
      case 'health_check': {
        const a = line.args;
        if (a.length === 0) argErr(line, PLUGIN);
        cfg.healthCheckMs = duration(a[0]!, opt);
        for (let i = 1; i < a.length; i++) {
          const o = a[i]!;
          if (o.text === 'no_rec') cfg.healthCheckRecursion = false;
          else if (o.text === 'domain') {
            const name = a[++i];
            if (name === undefined) argErr(o, PLUGIN);
            if (!isDomainName(name.text)) throw new ConfigError(name, `health_check: invalid domain name ${name.text}`, PLUGIN);
            cfg.healthCheckDomain = normalizeZone(name.text);
          } else throw new ConfigError(o, `health_check: unknown option ${o.text}`, PLUGIN);
        }
        break;
      }
      case 'policy': {
        const p = one(line);
        if (p.text !== 'random' && p.text !== 'round_robin' && p.text !== 'sequential') {
          throw new ConfigError(p, `unknown policy '${p.text}'`, PLUGIN);
        }
        cfg.policy = p.text;
        break;
      }
      case 'max_concurrent':
        cfg.maxConcurrent = count(one(line), opt);
        break;
      case 'next':
        cfg.next = rcodes(line, opt, true);
        break;
      case 'next_on_nodata':
        none(line);
        cfg.nextOnNoData = true;
        break;
      case 'failover':
        cfg.failover = rcodes(line, opt, false);
        break;
      case 'failfast_all_unhealthy_upstreams':
        none(line);
        cfg.failfastAllUnhealthy = true;
        break;
      case 'source_address': {
        const tok = one(line);
        const a = upstreamAddr(tok.text, 0);
        if (a === null) throw new ConfigError(tok, `invalid source address: ${tok.text}`, PLUGIN);
        cfg.sourceAddress = a.host;
        break;
      }
      case 'tls':
      case 'tls_servername':
      case 'doh_method':
      case 'resolver':
        throw new ConfigError(line.name, `${opt} is not supported by clusterdns`, PLUGIN);
      default:
        unknownProperty(line, PLUGIN);
    }
  }
  if (cfg.sourceAddress !== null && cfg.upstreams.some((u) => u.family !== (cfg.sourceAddress!.includes(':') ? 6 : 4))) {
    throw new ConfigError(d.name, `source_address ${cfg.sourceAddress} does not match the family of every upstream`, PLUGIN);
  }
  return cfg;
}
