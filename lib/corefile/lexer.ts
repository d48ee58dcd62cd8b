/**
 * Corefile lexer: turns text into whitespace-separated tokens that remember their file and line, with the exact
 * quoting and comment rules of CoreDNS's Corefile reader (caddy caddyfile/lexer.go).
 */
import type { Token } from './types.js';

const BOM = 0xfeff;
const NEWLINE = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HASH = 0x23;

/**
 * Whether `c` (a UTF-16 code unit) is white space as Go's `unicode.IsSpace` sees it, which is what separates
 * Corefile tokens. Differs from JS `\s`: U+0085 is a space in Go, U+FEFF is not.
 */
export function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/**
 * Splits Corefile text into tokens. Each token records `file` and the line it starts on.
 *
 * - Tokens are separated by white space; `\r` outside quotes is dropped entirely (it does not even split a word).
 * - A token that starts with `"` runs to the closing `"` and may span lines; inside it only `\"` is an escape, any
 *   other backslash is kept as written (and `\r` is kept too). An unclosed quote runs to the end of the input.
 * - `#` outside quotes starts a comment to the end of the line, even in the middle of a word (`foo#bar` → `foo`).
 * - A leading byte order mark is ignored. `{` and `}` are not special here; the parser looks at whole tokens.
 */
export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = text.charCodeAt(0) === BOM ? 1 : 0;
  const n = text.length;

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === NEWLINE) {
      line++;
      i++;
      continue;
    }
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === HASH) {
      // caddy lexer.go: a comment runs to the end of the line.
      while (i < n && text.charCodeAt(i) !== NEWLINE) i++;
      continue;
    }

    const start = line;
    if (c === QUOTE) {
      i++;
      let val = '';
      let closed = false;
      while (i < n) {
        const q = text.charCodeAt(i);
        if (q === BACKSLASH && i + 1 < n) {
          const e = text.charCodeAt(i + 1);
          // caddy lexer.go: only a quote can be escaped; any other backslash stays in the value.
          if (e !== QUOTE) val += '\\';
          if (e === NEWLINE) line++;
          val += text[i + 1];
          i += 2;
          continue;
        }
        if (q === BACKSLASH) {
          // A backslash as the very last character escapes nothing and is lost, as in caddy.
          i++;
          continue;
        }
        if (q === QUOTE) {
          i++;
          closed = true;
          break;
        }
        if (q === NEWLINE) line++;
        val += text[i];
        i++;
      }
      // caddy: an unterminated, empty quote at EOF yields no token; `""` yields an empty one.
      if (closed || val.length > 0) tokens.push({ text: val, file, line: start });
      continue;
    }

    let val = '';
    while (i < n) {
      const w = text.charCodeAt(i);
      if (w === CR) {
        i++;
        continue;
      }
      if (isSpace(w)) break;
      if (w === HASH) {
        // A comment in the middle of a word ends the word (caddy lexer.go).
        while (i < n && text.charCodeAt(i) !== NEWLINE) i++;
        break;
      }
      val += text[i];
      i++;
    }
    if (val.length > 0) tokens.push({ text: val, file, line: start });
  }
  return tokens;
}

/** The line a token ends on: its start line plus the line breaks inside it (only quoted tokens have any). */
export function endLine(tok: Token): number {
  let end = tok.line;
  for (let i = tok.text.indexOf('\n'); i !== -1; i = tok.text.indexOf('\n', i + 1)) end++;
  return end;
}
