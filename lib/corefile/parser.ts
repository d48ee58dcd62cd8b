/**
 * Corefile parser: groups tokens into server blocks and directives (with nested blocks), expands `import` of files,
 * globs and snippets, and substitutes `{$ENV}` / `{%ENV%}`. Behaviour follows CoreDNS's Corefile reader
 * (caddy caddyfile/parse.go); unknown directive names are left for the server to reject.
 */
import { readFileSync, readdirSync, lstatSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { endLine, tokenize } from './lexer.js';
import { ConfigError, type Directive, type ServerBlock, type Token } from './types.js';

/** Cap on snippet pastes per parse, against runaway snippet recursion (caddy parse.go maxSnippetExpansions). */
export const MAX_SNIPPET_EXPANSIONS = 10000;
/** Cap on file/glob imports per parse. */
export const MAX_FILE_EXPANSIONS = 100000;

/** Options for parseCorefile. */
export interface ParseOptions {
  /** Receives non-fatal problems, e.g. an import glob that matched no file (caddy logs these as warnings). */
  warn?: (message: string) => void;
}

/**
 * Replaces `{%NAME%}` and then `{$NAME}` references in `s` with values from `env` (empty when unset), as caddy
 * parse.go replaceEnvVars does. A reference with an empty name (`{$}`) stops substitution of that form. Unlike
 * caddy, a substituted value is not scanned again, so `FOO='{$FOO}'` cannot loop.
 */
export function substituteEnv(s: string, env: NodeJS.ProcessEnv): string {
  return replaceRefs(replaceRefs(s, '{%', '%}', env), '{$', '}', env);
}

function replaceRefs(s: string, open: string, close: string, env: NodeJS.ProcessEnv): string {
  let from = 0;
  for (;;) {
    const start = s.indexOf(open, from);
    if (start === -1) return s;
    const end = s.indexOf(close, start + open.length);
    if (end === -1) return s;
    const name = s.slice(start + open.length, end);
    if (name === '') return s;
    const value = env[name] ?? '';
    s = s.slice(0, start) + value + s.slice(end + close.length);
    from = start + value.length;
  }
}

/** A raw token plus the import chain that brought it in (absolute file paths and `(snippet)` names). */
interface Item {
  tok: Token;
  chain: readonly string[];
}

const SNIPPET_KEY = /^\((.*)\)$/;
const UNMATCHED_CLOSE = "Unexpected '}' because no matching opening brace";
const GLOB_META = /[*?[\]]/;

/** Does `name` match a single-segment glob with `*` and `?` (Go filepath.Match, no separators, dotfiles too)? */
function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(name);
}

/** Whether a path exists (without following a final symlink, like Go's Glob). */
function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Expands an absolute path pattern whose segments may hold `*`/`?`, like Go's filepath.Glob: matches in each
 * directory are sorted, and a pattern without wildcards matches itself if it exists.
 */
function glob(pattern: string): string[] {
  if (!GLOB_META.test(pattern)) return exists(pattern) ? [pattern] : [];
  const segments = pattern.split(sep);
  let found = [segments[0] === '' ? sep : segments[0]!];
  for (const seg of segments.slice(1)) {
    if (seg === '') continue;
    const next: string[] = [];
    for (const dir of found) {
      if (!GLOB_META.test(seg)) {
        next.push(join(dir, seg));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const name of names) if (globMatch(seg, name)) next.push(join(dir, name));
    }
    found = next;
  }
  return found.filter(exists);
}

/** One parse of one Corefile: a token list that imports splice into, walked by a cursor. */
class CorefileParser {
  private items: Item[];
  private pos = 0;
  private readonly snippets = new Map<string, Item[]>();
  private snippetExpansions = 0;
  private fileExpansions = 0;

  constructor(
    items: Item[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly warn: (message: string) => void,
  ) {
    this.items = items;
  }

  /** Parses every server block; snippet definitions are consumed and not returned. */
  parseAll(): ServerBlock[] {
    const blocks: ServerBlock[] = [];
    while (this.pos < this.items.length) {
      const block = this.parseBlock();
      if (block) blocks.push(block);
    }
    return blocks;
  }

  // ---- token helpers -------------------------------------------------------------------------------------------

  /** True if the item at `i` is on a later line (or another file) than the item before it (caddy isNewLine). */
  private startsLine(i: number): boolean {
    if (i <= 0) return true;
    const prev = this.items[i - 1]!.tok;
    const cur = this.items[i]!.tok;
    return prev.file !== cur.file || endLine(prev) < cur.line;
  }

  /** The next item if it is on the same line as the current one. */
  private sameLine(i: number): Item | undefined {
    return i < this.items.length && !this.startsLine(i) ? this.items[i] : undefined;
  }

  private out(item: Item): Token {
    const { tok } = item;
    return { text: substituteEnv(tok.text, this.env), file: tok.file, line: tok.line };
  }

  private err(item: Item | Token, problem: string): ConfigError {
    return new ConfigError('tok' in item ? item.tok : item, problem);
  }

  /** caddy EOFErr: reported at the last token read. */
  private eofErr(): ConfigError {
    return this.err(this.items[this.items.length - 1]!, 'Unexpected EOF');
  }

  // ---- server blocks -------------------------------------------------------------------------------------------

  /** Parses one server block or snippet definition starting at the cursor; null for a snippet or a bare import. */
  private parseBlock(): ServerBlock | null {
    const keys = this.parseKeys();
    if (keys === null) return null;
    const atEnd = this.pos >= this.items.length;

    const snippet = keys.length === 1 ? SNIPPET_KEY.exec(keys[0]!.text) : null;
    if (snippet) {
      this.defineSnippet(snippet[1]!, keys[0]!);
      return null;
    }
    // caddy parse.go: a Corefile that is only a line of keys is a block without directives.
    if (atEnd) return { keys, directives: [] };

    const item = this.items[this.pos]!;
    if (item.tok.text === '{') {
      this.pos++;
      return { keys, directives: this.parseLines(true, true) };
    }
    // caddy parse.go blockContents: a single server block needs no braces; everything left is its directives.
    return { keys, directives: this.parseLines(false, true) };
  }

  /**
   * Reads the keys of a block: tokens up to `{` or the end of the line, where a key ending in `,` continues onto
   * the next line (caddy parse.go addresses). Returns null if only imports were found (they are spliced in).
   */
  private parseKeys(): Token[] | null {
    const keys: Token[] = [];
    let first = true;
    let expectingAnother = false;
    for (;;) {
      if (this.pos >= this.items.length) {
        if (expectingAnother) throw this.eofErr();
        return first ? null : this.nonEmpty(keys, this.items[this.items.length - 1]!);
      }
      const item = this.items[this.pos]!;
      if (!first && !expectingAnother && this.startsLine(this.pos)) {
        return this.nonEmpty(keys, this.items[this.pos - 1]!);
      }
      if (item.tok.text === 'import' && (first || this.startsLine(this.pos))) {
        this.expandImport(this.pos);
        continue;
      }
      if (item.tok.text === '{') {
        if (expectingAnother) {
          throw this.err(item, "Expected another address but had '{' - check for extra comma");
        }
        if (keys.length === 0) {
          throw this.err(item, "Unexpected '{': expecting at least one server block key before it");
        }
        return keys;
      }
      if (item.tok.text === '}') throw this.err(item, UNMATCHED_CLOSE);
      const key = this.out(item);
      if (key.text.length > 1 && key.text.endsWith('{')) {
        throw this.err(item, `Unexpected token '${key.text}': '{' must be separated from the key by white space`);
      }
      if (key.text.endsWith(',')) {
        key.text = key.text.slice(0, -1);
        expectingAnother = true;
      } else {
        expectingAnother = false;
      }
      // caddy parse.go: an empty key (from `""` or a lone `,`) is skipped.
      if (key.text !== '') keys.push(key);
      first = false;
      this.pos++;
    }
  }

  /** Keys made only of empty tokens (`""`, a lone `,`) leave a block without keys, which is refused. */
  private nonEmpty(keys: Token[], at: Item): Token[] {
    if (keys.length === 0) throw this.err(at, 'Syntax error: server block has no keys (only empty tokens)');
    return keys;
  }

  /** Stores the raw tokens of a `(name) { ... }` snippet (caddy parse.go isSnippet/snippetTokens). */
  private defineSnippet(name: string, key: Token): void {
    if (this.snippets.has(name)) throw this.err(key, `redeclaration of previously declared snippet ${name}`);
    const open = this.items[this.pos];
    if (!open) throw this.eofErr();
    if (open.tok.text !== '{') throw this.err(open, `Syntax error: Unexpected token '${open.tok.text}', expecting '{'`);
    this.pos++;
    const body: Item[] = [];
    let depth = 1;
    for (;;) {
      const item = this.items[this.pos];
      if (!item) throw this.eofErr();
      this.pos++;
      if (item.tok.text === '{') depth++;
      if (item.tok.text === '}' && --depth === 0) break;
      body.push(item);
    }
    // caddy parse.go: a snippet that imports itself at the start of a line can never finish expanding.
    for (let i = 0; i + 1 < body.length; i++) {
      const atLineStart =
        i === 0 || body[i - 1]!.tok.file !== body[i]!.tok.file || endLine(body[i - 1]!.tok) < body[i]!.tok.line;
      if (body[i]!.tok.text === 'import' && atLineStart && substituteEnv(body[i + 1]!.tok.text, this.env) === name) {
        throw this.err(
          body[i]!,
          `maximum snippet import depth (${MAX_SNIPPET_EXPANSIONS}) exceeded: snippet '${name}' imports itself`,
        );
      }
    }
    this.snippets.set(name, body);
  }

  // ---- directives ----------------------------------------------------------------------------------------------

  /**
   * Parses directive lines until the `}` closing the current block (consumed) or, for a braceless server block,
   * until the end of input. `serverLevel` marks the lines of a server block itself, where caddy refuses a `}` on
   * the same line as a directive.
   */
  private parseLines(closed: boolean, serverLevel: boolean): Directive[] {
    const lines: Directive[] = [];
    for (;;) {
      const item = this.items[this.pos];
      if (!item) {
        if (closed) throw this.eofErr();
        return lines;
      }
      if (item.tok.text === '}') {
        if (!closed) throw this.err(item, UNMATCHED_CLOSE);
        this.pos++;
        return lines;
      }
      if (item.tok.text === 'import') {
        this.expandImport(this.pos);
        continue;
      }
      if (item.tok.text === '{') {
        throw this.err(item, "Unexpected '{': a block must open on the same line as its directive");
      }
      lines.push(this.parseDirective(serverLevel));
    }
  }

  /** Parses one directive: its name, the rest of its line as arguments, and an optional `{ ... }` block. */
  private parseDirective(serverLevel: boolean): Directive {
    const name = this.out(this.items[this.pos]!);
    this.pos++;
    const args: Token[] = [];
    let block: Directive[] | null = null;
    for (let item = this.sameLine(this.pos); item; item = this.sameLine(this.pos)) {
      const text = item.tok.text;
      if (text === '}') {
        // caddy parse.go directive: at nesting 0 a `}` on the directive's line matches nothing. Inside a
        // directive's block it simply closes that block (the caller consumes it).
        if (serverLevel) throw this.err(item, UNMATCHED_CLOSE);
        break;
      }
      this.pos++;
      if (text !== '{') {
        args.push(this.out(item));
        continue;
      }
      block = this.parseLines(true, false);
      const after = this.sameLine(this.pos);
      if (after && (serverLevel || after.tok.text !== '}')) {
        throw this.err(
          after,
          after.tok.text === '}' ? UNMATCHED_CLOSE : `Unexpected token '${after.tok.text}' after '}'; start a new line`,
        );
      }
      break;
    }
    return { name, args, block };
  }

  // ---- import --------------------------------------------------------------------------------------------------

  /**
   * Replaces `import PATTERN` at index `at` with the snippet or files it names (caddy parse.go doImport). File
   * patterns are relative to the directory of the file holding the pattern token.
   */
  private expandImport(at: number): void {
    const imp = this.items[at]!;
    const arg = this.sameLine(at + 1);
    if (!arg) throw this.err(imp, "Wrong argument count or unexpected line ending after 'import'");
    const pattern = substituteEnv(arg.tok.text, this.env);
    if (pattern === '') throw this.err(arg, 'Import requires a non-empty filepath');
    const extra = this.sameLine(at + 2);
    if (extra) throw this.err(extra, 'Import takes only one argument (glob pattern or file)');

    let spliced: Item[];
    const snippet = this.snippets.get(pattern);
    if (snippet) {
      const link = `(${pattern})`;
      if (imp.chain.includes(link) || this.snippetExpansions >= MAX_SNIPPET_EXPANSIONS) {
        const why = cycle(imp.chain, link);
        throw this.err(arg, `maximum snippet import depth (${MAX_SNIPPET_EXPANSIONS}) exceeded${why}`);
      }
      this.snippetExpansions++;
      const chain = [...imp.chain, link];
      spliced = snippet.map((s) => ({ tok: s.tok, chain }));
    } else {
      spliced = this.importFiles(imp, arg, pattern);
    }
    // splice() with spread arguments is fast but limited by the call stack, so very large imports rebuild.
    if (spliced.length < 10000) this.items.splice(at, 2, ...spliced);
    else this.items = this.items.slice(0, at).concat(spliced, this.items.slice(at + 2));
  }

  /** Reads and tokenizes the files matching `pattern`, tagging their tokens with absolute file names. */
  private importFiles(imp: Item, arg: Item, pattern: string): Item[] {
    if (this.fileExpansions >= MAX_FILE_EXPANSIONS) {
      throw this.err(arg, `maximum file import depth (${MAX_FILE_EXPANSIONS}) exceeded`);
    }
    this.fileExpansions++;
    const full = isAbsolute(pattern) ? pattern : join(dirname(resolve(arg.tok.file)), pattern);
    const stars = full.split('*').length - 1;
    const marks = full.split('?').length - 1;
    // caddy parse.go (issue #2096): several wildcards can make a glob hang, so they are refused.
    if (stars > 1 || marks > 1 || (full.includes('[') && full.includes(']'))) {
      throw this.err(arg, `Glob pattern may only contain one wildcard (*), but has others: ${full}`);
    }
    if (full.includes('[')) throw this.err(arg, `Failed to use import pattern ${pattern}: syntax error in pattern`);

    const matches = glob(full);
    if (matches.length === 0) {
      if (GLOB_META.test(full)) {
        this.warn(`No files matching import glob pattern: ${pattern}`);
        return [];
      }
      throw this.err(arg, `File to import not found: ${pattern}`);
    }

    const out: Item[] = [];
    for (const match of matches) {
      const file = resolve(match);
      if (imp.chain.includes(file)) {
        throw this.err(arg, `maximum file import depth (${MAX_FILE_EXPANSIONS}) exceeded${cycle(imp.chain, file)}`);
      }
      let text: string;
      try {
        if (statSync(file).isDirectory()) throw this.err(arg, `Could not import ${match}: is a directory`);
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw this.err(arg, `Could not import ${match}: ${(e as Error).message}`);
      }
      const chain = [...imp.chain, file];
      for (const tok of tokenize(text, file)) out.push({ tok, chain });
    }
    return out;
  }
}

/** Describes an import cycle for an error message: `: import cycle a -> b -> a`. */
function cycle(chain: readonly string[], link: string): string {
  const from = chain.indexOf(link);
  if (from === -1) return '';
  return `: import cycle ${[...chain.slice(from), link].join(' -> ')}`;
}

/**
 * Parses Corefile `text` read from `file` (the name errors and tokens carry; relative imports resolve against its
 * directory) into server blocks.
 *
 * - Keys: one or more per block before `{`, separated by white space; a key ending in `,` continues on the next
 *   line. `{` may also open on the line after the keys. A single block may omit its braces.
 * - Directives end at the end of their line unless a `{` opens a block; lines inside a block become nested
 *   Directives to any depth.
 * - `{$NAME}` / `{%NAME%}` are replaced from `env` in keys, directive names and arguments (also quoted ones).
 * - `import PATTERN` (snippet name, file or one-wildcard glob) works at top level and at the start of any line in
 *   a block; `(name) { ... }` defines a snippet.
 *
 * Throws ConfigError naming file and line for any syntax error. Directive names are not checked.
 */
export function parseCorefile(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ParseOptions = {},
): ServerBlock[] {
  // The Corefile itself heads every import chain, so importing it again is caught as a cycle.
  const chain = [resolve(file)];
  const items = tokenize(text, file).map((tok) => ({ tok, chain }));
  return new CorefileParser(items, env, options.warn ?? (() => {})).parseAll();
}

/**
 * Reads the Corefile at `path` and parses it with parseCorefile; errors name the file as `path` was given.
 * File system errors (e.g. ENOENT) are thrown as they come from node:fs.
 */
export function parseCorefileFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ParseOptions = {},
): ServerBlock[] {
  return parseCorefile(readFileSync(path, 'utf8'), path, env, options);
}
