/** Shapes produced by the Corefile parser and consumed by plugin setups and the server. */

/** One token with where it came from, so every error can name file and line. */
export interface Token {
  text: string;
  file: string;
  line: number;
}

/**
 * One directive line: `name args... [{ nested lines }]`. Lines inside a block are Directives too, so a plugin's
 * sub-options (`pods insecure`, `lameduck 5s`) are walked the same way as top-level directives.
 */
export interface Directive {
  name: Token;
  args: Token[];
  /** The `{ ... }` block's lines, or null when the directive has no block. */
  block: Directive[] | null;
}

/** A server block as written: its keys (`.:53`, `cluster.local:1053`, `dns://10.0.0.0/24`) and its directives. */
export interface ServerBlock {
  keys: Token[];
  directives: Directive[];
}

/** A parsed, normalised server-block key. One written key may expand to several (CIDR → reverse zones). */
export interface ZoneAddr {
  /** Transport scheme: 'dns' (plain UDP+TCP) is what clusterdns serves; others are parsed and rejected at startup. */
  scheme: string;
  /** Absolute, lower-cased zone with trailing dot ('.' for the root). */
  zone: string;
  /** Port as a number. */
  port: number;
}

/**
 * A configuration error that names its place. Its message is what the process prints before exiting 1, in
 * CoreDNS's shape: `plugin/<name>: <file>:<line> - Error during parsing: <problem>` (or without the plugin prefix
 * for errors of the Corefile syntax itself).
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly problem: string;
  readonly plugin: string | undefined;
  constructor(where: { file: string; line: number }, problem: string, plugin?: string) {
    super(`${plugin ? `plugin/${plugin}: ` : ''}${where.file}:${where.line} - Error during parsing: ${problem}`);
    this.name = 'ConfigError';
    this.file = where.file;
    this.line = where.line;
    this.problem = problem;
    this.plugin = plugin;
  }
}
