/** Corefile syntax of `errors`: `errors { stacktrace; consolidate DURATION REGEXP [LEVEL] [show_first] }`. */
import { argErr, parseDuration } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';

export type Level = 'warning' | 'error' | 'info' | 'debug';

/** One `consolidate` rule: matching errors are counted and summarised once per period. */
export interface ConsolidateRule {
  periodMs: number;
  pattern: RegExp;
  source: string;
  level: Level;
  showFirst: boolean;
}

export interface ErrorsConfig {
  stacktrace: boolean;
  consolidate: ConsolidateRule[];
}

const LEVELS: ReadonlySet<string> = new Set(['warning', 'error', 'info', 'debug']);

/** Parse one `errors` directive. */
export function parse(d: Directive): ErrorsConfig {
  if (d.args.length > 0) throw argErr(d, 'errors');
  const cfg: ErrorsConfig = { stacktrace: false, consolidate: [] };
  for (const line of d.block ?? []) {
    switch (line.name.text) {
      case 'stacktrace':
        if (line.args.length > 0) throw argErr(line, 'errors');
        cfg.stacktrace = true;
        break;
      case 'consolidate': {
        const a = line.args;
        if (a.length < 2 || a.length > 4) throw argErr(line, 'errors');
        const periodMs = parseDuration(a[0]!, 'errors');
        let pattern: RegExp;
        try {
          pattern = new RegExp(a[1]!.text);
        } catch (e) {
          throw new ConfigError(a[1]!, `invalid regexp '${a[1]!.text}': ${(e as Error).message}`, 'errors');
        }
        let level: Level = 'error';
        let showFirst = false;
        for (const opt of a.slice(2)) {
          if (opt.text === 'show_first') showFirst = true;
          else if (LEVELS.has(opt.text)) level = opt.text as Level;
          else throw new ConfigError(opt, `unknown log level argument in consolidate: ${opt.text}`, 'errors');
        }
        cfg.consolidate.push({ periodMs, pattern, source: a[1]!.text, level, showFirst });
        break;
      }
      default:
        throw new ConfigError(line.name, `unknown property '${line.name.text}'`, 'errors');
    }
  }
  return cfg;
}
