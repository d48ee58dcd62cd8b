/**
 * Small checks every plugin's `parse()` uses. Each throws a ConfigError tagged with the plugin, so the message
 * reads `plugin/<name>: <file>:<line> - Error during parsing: <problem>` like CoreDNS's `plugin.Error(c.ArgErr())`.
 */
import { ConfigError, type Directive, type Token } from './types.js';

/** The last token written on a directive's line: what caddy's cursor sits on when a plugin calls ArgErr. */
function lastToken(d: Directive): Token {
  return d.args.length > 0 ? d.args[d.args.length - 1]! : d.name;
}

/**
 * Throws caddy's argument-count error: "Wrong argument count or unexpected line ending after 'X'", where X is the
 * given token or, for a directive, the last token of its line (caddy dispenser.go ArgErr).
 */
export function argErr(d: Directive | Token, plugin: string): never {
  const tok = 'name' in d ? lastToken(d) : d;
  throw new ConfigError(tok, `Wrong argument count or unexpected line ending after '${tok.text}'`, plugin);
}

/** Throws "unknown property 'x'" for a block line the plugin does not know (CoreDNS plugins' c.Errf wording). */
export function unknownProperty(d: Directive, plugin: string): never {
  throw new ConfigError(d.name, `unknown property '${d.name.text}'`, plugin);
}

/** Throws if `d` has a `{ ... }` block, for plugins that take none. */
export function noBlock(d: Directive, plugin: string): void {
  if (d.block !== null) {
    throw new ConfigError(d.name, `Unexpected token '{': '${d.name.text}' takes no block`, plugin);
  }
}

/** Nanoseconds per Go duration unit (time.ParseDuration; `µ` U+00B5 and `μ` U+03BC are both micro). */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
/** Go durations are int64 nanoseconds. */
const MAX_DURATION_NS = 2 ** 63 - 1;

/**
 * Parses a Go duration (`5s`, `1m30s`, `100ms`, `1.5h`, `-2s`, `0`) and returns milliseconds (fractional below a
 * millisecond). Errors use Go's wording, e.g. `time: missing unit in duration "5"`.
 */
export function parseDuration(tok: Token, plugin: string): number {
  const orig = tok.text;
  const fail = (why: string): never => {
    throw new ConfigError(tok, `time: ${why}`, plugin);
  };
  const quoted = JSON.stringify(orig);
  let s = orig;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') fail(`invalid duration ${quoted}`);
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [num, whole = '', frac] = m;
    // Go: a number needs at least one digit on either side of the dot.
    if (whole === '' && (frac === undefined || frac === '')) fail(`invalid duration ${quoted}`);
    s = s.slice(num.length);
    const unit = /^[^\d.]*/.exec(s)![0];
    if (unit === '') fail(`missing unit in duration ${quoted}`);
    const ns = UNIT_NS[unit];
    if (ns === undefined) fail(`unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    total += Number(`${whole || '0'}.${frac || '0'}`) * ns!;
  }
  if (total > MAX_DURATION_NS) fail(`invalid duration ${quoted}`);
  const ms = total / 1e6;
  return neg ? -ms : ms;
}

/**
 * Parses a decimal integer (Go strconv.Atoi syntax: optional sign, digits) within [min, max], inclusive.
 */
export function parseIntArg(
  tok: Token,
  plugin: string,
  min: number = Number.MIN_SAFE_INTEGER,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (!/^[+-]?\d+$/.test(tok.text)) {
    throw new ConfigError(tok, `strconv.Atoi: parsing ${JSON.stringify(tok.text)}: invalid syntax`, plugin);
  }
  const n = Number(tok.text);
  if (n < min || n > max) throw new ConfigError(tok, `${tok.text} is out of range [${min}, ${max}]`, plugin);
  return n;
}
