/**
 * Corefile syntax of `kubernetes [ZONES...] { ... }` (CoreDNS plugin/kubernetes/setup.go ParseStanza), plus the
 * clusterdns extension `fixture PATH`. Pure: no I/O, every problem is a ConfigError naming file and line.
 */
import { isAbsolute, dirname, resolve } from 'node:path';
import { argErr, noBlock, parseDuration, parseIntArg, unknownProperty } from '../../corefile/args.js';
import { normalizeZones } from '../../corefile/keys.js';
import { ConfigError, type Directive, type Token } from '../../corefile/types.js';
import { parseSelector, type Selector } from '../../kube/selector.js';
import type { ParseContext } from '../../plugin.js';

const PLUGIN = 'kubernetes';

/** How `<ip>.<ns>.pod.<zone>` names are answered. */
export type PodMode = 'disabled' | 'insecure' | 'verified';

/** The parsed `kubernetes` directive. */
export interface KubernetesConfig {
  /** Authoritative zones, normalised (lower case, absolute), CIDR arguments expanded to reverse zones. */
  zones: string[];
  /** The first non-reverse zone: PTR targets are built in it. */
  primaryZone: string;
  /** `endpoint URL...` (only the first is used, as in CoreDNS); empty for in-cluster config. */
  endpoints: string[];
  /** `tls CERT KEY CACERT`. */
  tls: { cert: string; key: string; ca: string } | null;
  /** `kubeconfig FILE [CONTEXT]`. */
  kubeconfig: { file: string; context: string } | null;
  /** `apiserver_qps`, `apiserver_burst`, `apiserver_max_inflight` (0 = client default / unlimited). */
  apiserverQPS: number;
  apiserverBurst: number;
  apiserverMaxInflight: number;
  /** `namespaces`: exposed namespaces; empty exposes all. */
  namespaces: string[];
  /** `namespace_labels`. */
  namespaceSelector: Selector | null;
  /** `labels`. */
  labelSelector: Selector | null;
  pods: PodMode;
  endpointPodNames: boolean;
  /** TTL of every answer, 0..3600, default 5. */
  ttl: number;
  noEndpoints: boolean;
  /** `fallthrough [ZONES...]`: null when absent; `['.']` when given without zones. */
  fallthrough: string[] | null;
  /** `ignore empty_service`. */
  ignoreEmptyService: boolean;
  /** `startup_timeout`, milliseconds (default 5 s). */
  startupTimeoutMs: number;
  /** clusterdns extension `fixture PATH`: read the cluster from files; absolute (resolved against the Corefile). */
  fixture: string | null;
  /**
   * Not a Corefile option: the addresses NS records are built from. Absent = the host's non-loopback interface
   * addresses, as CoreDNS does without `bind`. Tests set it.
   */
  localIPs?: readonly string[];
}

const DEFAULT_TTL = 5;
const DEFAULT_STARTUP_TIMEOUT_MS = 5000;

// CoreDNS plugin/pkg/dnsutil IsReverse: only names *below* in-addr.arpa./ip6.arpa. count, so a bare
// `in-addr.arpa` zone can be the primary zone.
function isReverse(zone: string): boolean {
  return zone.endsWith('.in-addr.arpa.') || zone.endsWith('.ip6.arpa.');
}

function exactly(line: Directive, n: number): Token[] {
  if (line.args.length !== n) argErr(line, PLUGIN);
  return line.args;
}

function atLeastOne(line: Directive): Token[] {
  if (line.args.length === 0) argErr(line, PLUGIN);
  return line.args;
}

function selector(line: Directive, what: string): Selector {
  const text = line.args.map((a) => a.text).join(' ');
  try {
    return parseSelector(text);
  } catch (err) {
    throw new ConfigError(line.args[0]!, `unable to parse ${what} selector value: '${text}': ${(err as Error).message}`, PLUGIN);
  }
}

function nonNegative(tok: Token, option: string, value: number): number {
  if (value < 0) throw new ConfigError(tok, `${option} must not be negative: ${tok.text}`, PLUGIN);
  return value;
}

function parseFloatArg(tok: Token): number {
  // Go strconv.ParseFloat syntax (decimal or exponent form; no hex floats, no Infinity words accepted here).
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(tok.text)) {
    throw new ConfigError(tok, `strconv.ParseFloat: parsing ${JSON.stringify(tok.text)}: invalid syntax`, PLUGIN);
  }
  return Number(tok.text);
}

/** Parse one `kubernetes` directive. */
export function parse(d: Directive, ctx: ParseContext): KubernetesConfig {
  const zones = d.args.length > 0 ? normalizeZones(d.args, PLUGIN) : [...ctx.zones];
  const primaryZone = zones.find((z) => !isReverse(z));
  // CoreDNS returns a bare errors.New here; we still point at the directive.
  if (primaryZone === undefined) throw new ConfigError(d.name, 'non-reverse zone name must be used', PLUGIN);

  const cfg: KubernetesConfig = {
    zones,
    primaryZone,
    endpoints: [],
    tls: null,
    kubeconfig: null,
    apiserverQPS: 0,
    apiserverBurst: 0,
    apiserverMaxInflight: 0,
    namespaces: [],
    namespaceSelector: null,
    labelSelector: null,
    pods: 'disabled',
    endpointPodNames: false,
    ttl: DEFAULT_TTL,
    noEndpoints: false,
    fallthrough: null,
    ignoreEmptyService: false,
    startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS,
    fixture: null,
  };

  let namespacesLine: Directive | null = null;
  let namespaceLabelsLine: Directive | null = null;

  for (const line of d.block ?? []) {
    noBlock(line, PLUGIN);
    const opt = line.name.text;
    switch (opt) {
      case 'endpoint_pod_names':
        exactly(line, 0);
        cfg.endpointPodNames = true;
        break;
      case 'pods': {
        const [mode] = exactly(line, 1);
        if (mode!.text !== 'disabled' && mode!.text !== 'insecure' && mode!.text !== 'verified') {
          // CoreDNS's wording, double space included.
          throw new ConfigError(mode!, `wrong value for pods: ${mode!.text},  must be one of: disabled, verified, insecure`, PLUGIN);
        }
        cfg.pods = mode!.text;
        break;
      }
      case 'namespaces':
        for (const a of atLeastOne(line)) if (!cfg.namespaces.includes(a.text)) cfg.namespaces.push(a.text);
        namespacesLine = line;
        break;
      case 'namespace_labels':
        atLeastOne(line);
        cfg.namespaceSelector = selector(line, 'namespace_label');
        namespaceLabelsLine = line;
        break;
      case 'labels':
        atLeastOne(line);
        cfg.labelSelector = selector(line, 'label');
        break;
      case 'endpoint':
        cfg.endpoints = atLeastOne(line).map((a) => a.text);
        break;
      case 'tls': {
        const [cert, key, ca] = exactly(line, 3);
        cfg.tls = { cert: cert!.text, key: key!.text, ca: ca!.text };
        break;
      }
      case 'kubeconfig':
        if (line.args.length !== 1 && line.args.length !== 2) argErr(line, PLUGIN);
        cfg.kubeconfig = { file: line.args[0]!.text, context: line.args[1]?.text ?? '' };
        break;
      case 'apiserver_qps': {
        const [v] = exactly(line, 1);
        cfg.apiserverQPS = nonNegative(v!, opt, parseFloatArg(v!));
        break;
      }
      case 'apiserver_burst': {
        const [v] = exactly(line, 1);
        cfg.apiserverBurst = nonNegative(v!, opt, parseIntArg(v!, PLUGIN));
        break;
      }
      case 'apiserver_max_inflight': {
        const [v] = exactly(line, 1);
        cfg.apiserverMaxInflight = nonNegative(v!, opt, parseIntArg(v!, PLUGIN));
        break;
      }
      case 'ttl': {
        // CoreDNS reads only the first argument and ignores any others.
        const [v] = atLeastOne(line);
        const t = parseIntArg(v!, PLUGIN);
        if (t < 0 || t > 3600) throw new ConfigError(v!, `ttl must be in range [0, 3600]: ${t}`, PLUGIN);
        cfg.ttl = t;
        break;
      }
      case 'noendpoints':
        exactly(line, 0);
        cfg.noEndpoints = true;
        break;
      case 'fallthrough':
        // CoreDNS plugin/pkg/fall SetZonesFromArgs: no zones means the root, i.e. every name.
        cfg.fallthrough = line.args.length === 0 ? ['.'] : normalizeZones(line.args, PLUGIN);
        break;
      case 'ignore':
        // CoreDNS accepts a bare `ignore` silently and only looks at the first argument.
        if (line.args.length > 0) {
          if (line.args[0]!.text !== 'empty_service') {
            throw new ConfigError(line.args[0]!, `unable to parse ignore value: '${line.args[0]!.text}'`, PLUGIN);
          }
          cfg.ignoreEmptyService = true;
        }
        break;
      case 'startup_timeout': {
        const [v] = exactly(line, 1);
        cfg.startupTimeoutMs = Math.max(0, parseDuration(v!, PLUGIN));
        break;
      }
      case 'multicluster':
      case 'zonal':
        throw new ConfigError(line.name, `${opt} is not supported by clusterdns`, PLUGIN);
      case 'fixture': {
        const [p] = exactly(line, 1);
        cfg.fixture = isAbsolute(p!.text) ? p!.text : resolve(dirname(d.name.file), p!.text);
        break;
      }
      default:
        unknownProperty(line, PLUGIN);
    }
  }

  if (namespacesLine !== null && namespaceLabelsLine !== null) {
    // CoreDNS checks after the block (its cursor is then on the closing brace); we name the later of the two lines.
    const later = namespacesLine.name.line > namespaceLabelsLine.name.line ? namespacesLine : namespaceLabelsLine;
    throw new ConfigError(later.name, 'namespaces and namespace_labels cannot both be set', PLUGIN);
  }
  return cfg;
}
