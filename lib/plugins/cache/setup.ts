/**
 * Corefile syntax of `cache` (CoreDNS plugin/cache/setup.go):
 * `cache [TTL] [ZONES...] { success CAP [TTL [MINTTL]]; denial CAP [TTL [MINTTL]]; prefetch AMOUNT [DURATION
 * [PERCENTAGE%]]; serve_stale [DURATION [immediate|verify]]; servfail DURATION; disable success|denial [ZONES...];
 * keepttl }`.
 */
import { argErr, parseDuration } from '../../corefile/args.js';
import { normalizeZones } from '../../corefile/keys.js';
import { ConfigError, type Directive, type Token } from '../../corefile/types.js';
import type { ParseContext } from '../../plugin.js';

const PLUGIN = 'cache';

/** Default cap on success TTLs, in seconds (CoreDNS dnsutil.MaximumDefaulTTL). */
export const MAX_SUCCESS_TTL = 3600;
/** Default cap on denial TTLs, in seconds (half the success cap in CoreDNS cache.go). */
export const MAX_DENIAL_TTL = 1800;
/** Default minimum TTL of both caches and default SERVFAIL duration, in seconds (CoreDNS dnsutil.MinimalDefaultTTL). */
export const MIN_TTL = 5;
/** Capacity of each cache when not configured (CoreDNS defaultCap). */
export const DEFAULT_CAPACITY = 10000;
/** Longest time a SERVFAIL may be cached (CoreDNS setup.go). */
export const MAX_SERVFAIL_MS = 5 * 60_000;

/** One of the two caches' settings. TTLs in seconds. */
export interface CacheClass {
  /** Capacity as written (the effective capacity is derived in the handler, see effectiveCapacity). */
  capacity: number;
  maxTtl: number;
  minTtl: number;
  /** Names in these zones are never stored in this cache (`disable`). Empty: store everything. */
  disabled: string[];
}

/** The parsed `cache` directive. */
export interface CacheConfig {
  /** The zones the cache applies to (absolute, lower case). */
  zones: string[];
  success: CacheClass;
  denial: CacheClass;
  /** Hits needed before a prefetch; 0 = prefetch off. */
  prefetch: number;
  /** Longest gap between hits that still counts them as one run (ms). */
  prefetchWindowMs: number;
  /** Prefetch once the remaining TTL is at or below this percentage of the original. */
  prefetchPercentage: number;
  /** How long past expiry an entry may still be served (ms); 0 = serve_stale off. */
  staleMs: number;
  /** serve_stale mode: `verify` asks the next plugin first and serves the stale entry only when that fails. */
  staleVerify: boolean;
  /** How long SERVFAIL replies are cached (ms); 0 = not cached. */
  servfailMs: number;
  /** Serve hits with the TTL they were stored with instead of counting down. */
  keepTtl: boolean;
}

/** Go strconv.Atoi: an optional sign and decimal digits, or null. */
function atoi(text: string): number | null {
  return /^[+-]?\d+$/.test(text) ? Number(text) : null;
}

// Go returns the strconv error itself for a bad number (setup.go `return nil, err`).
function intArg(tok: Token): number {
  const n = atoi(tok.text);
  if (n === null) throw new ConfigError(tok, `strconv.Atoi: parsing ${JSON.stringify(tok.text)}: invalid syntax`, PLUGIN);
  return n;
}

function fail(tok: Token, problem: string): never {
  throw new ConfigError(tok, problem, PLUGIN);
}

// `success|denial CAP [TTL [MINTTL]]`.
function parseClass(line: Directive, c: CacheClass): void {
  const a = line.args;
  if (a.length === 0 || a.length > 3) argErr(line, PLUGIN);
  c.capacity = intArg(a[0]!);
  if (a.length > 1) {
    const ttl = intArg(a[1]!);
    if (ttl <= 0) fail(a[1]!, `cache TTL can not be zero or negative: ${ttl}`);
    c.maxTtl = ttl;
  }
  if (a.length > 2) {
    const min = intArg(a[2]!);
    if (min < 0) fail(a[2]!, `cache min TTL can not be negative: ${min}`);
    c.minTtl = min;
  }
}

/** Parse one `cache` directive; zones default to the block's. */
export function parse(d: Directive, ctx: ParseContext): CacheConfig {
  const cfg: CacheConfig = {
    zones: [...ctx.zones],
    success: { capacity: DEFAULT_CAPACITY, maxTtl: MAX_SUCCESS_TTL, minTtl: MIN_TTL, disabled: [] },
    denial: { capacity: DEFAULT_CAPACITY, maxTtl: MAX_DENIAL_TTL, minTtl: MIN_TTL, disabled: [] },
    prefetch: 0,
    prefetchWindowMs: 60_000,
    prefetchPercentage: 10,
    staleMs: 0,
    staleVerify: false,
    servfailMs: MIN_TTL * 1000,
    keepTtl: false,
  };
  let args = d.args;
  // CoreDNS: a first argument that parses as an integer is the TTL, anything else is a zone.
  if (args.length > 0) {
    const ttl = atoi(args[0]!.text);
    if (ttl !== null) {
      if (ttl <= 0) fail(args[0]!, `cache TTL can not be zero or negative: ${ttl}`);
      cfg.success.maxTtl = ttl;
      cfg.denial.maxTtl = ttl;
      args = args.slice(1);
    }
  }
  if (args.length > 0) cfg.zones = normalizeZones(args, PLUGIN);

  for (const line of d.block ?? []) {
    const a = line.args;
    switch (line.name.text) {
      case 'success':
        parseClass(line, cfg.success);
        break;
      case 'denial':
        parseClass(line, cfg.denial);
        break;
      case 'prefetch': {
        if (a.length === 0 || a.length > 3) argErr(line, PLUGIN);
        const amount = intArg(a[0]!);
        if (amount < 0) fail(a[0]!, `prefetch amount should be positive: ${amount}`);
        cfg.prefetch = amount;
        if (a.length > 1) cfg.prefetchWindowMs = parseDuration(a[1]!, PLUGIN);
        if (a.length > 2) {
          const pct = a[2]!.text;
          if (!pct.endsWith('%')) {
            fail(a[2]!, `last character of percentage should be \`%\`, but is: '${pct[pct.length - 1] ?? ''}'`);
          }
          const num = intArg({ ...a[2]!, text: pct.slice(0, -1) });
          if (num < 10 || num > 90) fail(a[2]!, `percentage should fall in range [10, 90]: ${num}`);
          cfg.prefetchPercentage = num;
        }
        break;
      }
      case 'serve_stale': {
        if (a.length > 2) argErr(line, PLUGIN);
        cfg.staleMs = 3600_000;
        if (a.length > 0) {
          const ms = parseDuration(a[0]!, PLUGIN);
          if (ms < 0) fail(a[0]!, 'invalid negative duration for serve_stale');
          cfg.staleMs = ms;
        }
        cfg.staleVerify = false;
        if (a.length > 1) {
          const mode = a[1]!.text.toLowerCase();
          if (mode !== 'immediate' && mode !== 'verify') {
            fail(a[1]!, `invalid value for serve_stale refresh mode: ${mode}`);
          }
          cfg.staleVerify = mode === 'verify';
        }
        break;
      }
      case 'servfail': {
        if (a.length !== 1) argErr(line, PLUGIN);
        const ms = parseDuration(a[0]!, PLUGIN);
        if (ms < 0) fail(a[0]!, 'invalid negative ttl for servfail');
        if (ms > MAX_SERVFAIL_MS) fail(a[0]!, 'caching SERVFAIL responses over 5 minutes is not permitted');
        cfg.servfailMs = ms;
        break;
      }
      case 'disable': {
        if (a.length < 1) argErr(line, PLUGIN);
        // CoreDNS: no zones means the root, i.e. everything.
        const zones = a.length > 1 ? normalizeZones(a.slice(1), PLUGIN) : ['.'];
        if (a[0]!.text === 'success') cfg.success.disabled = zones;
        else if (a[0]!.text === 'denial') cfg.denial.disabled = zones;
        else fail(a[0]!, 'cache type for disable must be "success" or "denial"');
        break;
      }
      case 'keepttl':
        if (a.length !== 0) argErr(line, PLUGIN);
        cfg.keepTtl = true;
        break;
      default:
        // CoreDNS setup.go: an unknown property is `c.ArgErr()` with the cursor on the property name.
        argErr(line.name, PLUGIN);
    }
  }
  return cfg;
}

/**
 * The number of entries a cache configured for `capacity` really holds: CoreDNS plugin/pkg/cache splits it into 256
 * shards of floor(capacity/256) entries, at least 4 each, so 10000 → 9984 and anything below 1024 → 1024.
 */
export function effectiveCapacity(capacity: number): number {
  return Math.max(4, Math.floor(capacity / 256)) * 256;
}
