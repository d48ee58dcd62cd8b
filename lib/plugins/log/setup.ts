/** Corefile syntax of `log`: `log [NAMES...] [FORMAT] { class success|denial|error|all }`. */
import { normalizeZone } from '../../corefile/keys.js';
import { ConfigError, type Directive } from '../../corefile/types.js';
import { argErr } from '../../corefile/args.js';
import type { ParseContext } from '../../plugin.js';
import { COMBINED_FORMAT, COMMON_FORMAT } from './format.js';

export type LogClass = 'success' | 'denial' | 'error' | 'all';

/** One logging rule: names it applies to (suffix match), the line format, and which classes get logged. */
export interface LogRule {
  names: string[];
  format: string;
  classes: Set<LogClass>;
}

export type LogConfig = LogRule[];

const CLASSES: ReadonlySet<string> = new Set(['success', 'denial', 'error', 'all']);

/**
 * CoreDNS plugin/log/setup.go: no args → all names, common format; one arg → a name; two or more args → names then
 * the last arg is the format (`{common}`, `{combined}` or a template).
 */
export function parse(d: Directive, _ctx: ParseContext): LogConfig {
  const a = d.args.map((t) => t.text);
  let names: string[];
  let format = COMMON_FORMAT;
  if (a.length === 0) names = ['.'];
  else if (a.length === 1) names = [normalizeZone(a[0]!)];
  else {
    names = a.slice(0, -1).map(normalizeZone);
    const f = a[a.length - 1]!;
    format = f === '{common}' ? COMMON_FORMAT : f === '{combined}' ? COMBINED_FORMAT : f;
  }
  const classes = new Set<LogClass>();
  for (const line of d.block ?? []) {
    if (line.name.text !== 'class') throw new ConfigError(line.name, `unknown property '${line.name.text}'`, 'log');
    if (line.args.length === 0) throw argErr(line, 'log');
    for (const c of line.args) {
      if (!CLASSES.has(c.text)) throw new ConfigError(c, `unknown class: ${c.text}`, 'log');
      classes.add(c.text as LogClass);
    }
  }
  if (classes.size === 0) classes.add('all');
  return [{ names, format, classes }];
}
