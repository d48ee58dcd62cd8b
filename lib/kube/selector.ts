/**
 * Kubernetes label selectors as `kubectl -l` accepts them (apimachinery `labels.Parse` grammar): comma-separated
 * requirements `k=v`, `k==v`, `k!=v`, `k in (a, b)`, `k notin (a)`, `k`, `!k`, and the integer comparisons `k>n`,
 * `k<n`. The kubernetes plugin compiles its `labels` and `namespace_labels` options with this at startup.
 */

/** The operator of one requirement. */
export type SelectorOp = 'exists' | 'notexists' | 'in' | 'notin' | 'gt' | 'lt';

/** One requirement of a selector. `k=v` and `k==v` are `in` with one value, `k!=v` is `notin` with one value. */
export interface Requirement {
  readonly key: string;
  readonly op: SelectorOp;
  /** The value set for `in`/`notin`; empty for `exists`/`notexists`. */
  readonly values: ReadonlySet<string>;
  /** The bound for `gt`/`lt`; 0 otherwise. */
  readonly bound: number;
}

/** A parsed selector: all requirements must hold (logical AND). No requirements matches everything. */
export interface Selector {
  /** The selector text as given. */
  readonly text: string;
  readonly requirements: readonly Requirement[];
}

// Characters that end an identifier in the apimachinery lexer.
const SPECIAL = new Set(['!', '=', '(', ')', ',', '<', '>']);
// A label name or value: at most 63 characters, alphanumeric at both ends, '-', '_' and '.' inside.
const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
// A DNS-1123 subdomain, the optional prefix of a label key.
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type TokenType = 'id' | 'op' | '(' | ')' | ',' | '!' | 'in' | 'notin' | 'end';

interface Token {
  type: TokenType;
  text: string;
  pos: number;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const pos = i;
    if (c === '(' || c === ')' || c === ',') {
      out.push({ type: c, text: c, pos });
      i++;
    } else if (c === '!') {
      if (s[i + 1] === '=') {
        out.push({ type: 'op', text: '!=', pos });
        i += 2;
      } else {
        out.push({ type: '!', text: '!', pos });
        i++;
      }
    } else if (c === '=') {
      const two = s[i + 1] === '=';
      out.push({ type: 'op', text: two ? '==' : '=', pos });
      i += two ? 2 : 1;
    } else if (c === '<' || c === '>') {
      out.push({ type: 'op', text: c, pos });
      i++;
    } else {
      let j = i;
      while (j < s.length && !SPECIAL.has(s[j]!) && !/\s/.test(s[j]!)) j++;
      const text = s.slice(i, j);
      // apimachinery lexes the bare words `in` and `notin` as keywords, so they cannot be keys or values.
      const type: TokenType = text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'id';
      out.push({ type, text, pos });
      i = j;
    }
  }
  out.push({ type: 'end', text: '', pos: s.length });
  return out;
}

function checkKey(key: string, fail: (msg: string) => never): void {
  const slash = key.indexOf('/');
  let name = key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix === '' || prefix.length > 253 || !SUBDOMAIN_RE.test(prefix)) {
      fail(`invalid label key ${JSON.stringify(key)}: prefix must be a lower-case DNS subdomain`);
    }
  }
  if (name === '' || name.length > 63 || !NAME_RE.test(name)) {
    fail(
      `invalid label key ${JSON.stringify(key)}: name must be 1-63 characters, alphanumeric at both ends, ` +
        `with '-', '_' or '.' inside`,
    );
  }
}

function checkValue(value: string, fail: (msg: string) => never): void {
  if (value === '') return;
  if (value.length > 63 || !NAME_RE.test(value)) {
    fail(
      `invalid label value ${JSON.stringify(value)}: must be at most 63 characters, alphanumeric at both ends, ` +
        `with '-', '_' or '.' inside`,
    );
  }
}

/**
 * Parses a label selector. The empty (or all-blank) selector matches everything.
 * @throws Error with a message naming the selector and the problem, e.g.
 *   `invalid label selector "a in (x": expected ',' or ')' at position 8`.
 */
export function parseSelector(text: string): Selector {
  const fail = (msg: string): never => {
    throw new Error(`invalid label selector ${JSON.stringify(text)}: ${msg}`);
  };
  const toks = tokenize(text);
  let p = 0;
  const peek = (): Token => toks[p]!;
  const next = (): Token => toks[p++]!;
  const describe = (t: Token): string => (t.type === 'end' ? 'end of selector' : `'${t.text}' at position ${t.pos}`);
  const requirements: Requirement[] = [];
  if (peek().type === 'end') return { text, requirements };

  for (;;) {
    let t = next();
    if (t.type === '!') {
      const k = next();
      if (k.type !== 'id') fail(`expected a label key after '!', found ${describe(k)}`);
      checkKey(k.text, fail);
      requirements.push({ key: k.text, op: 'notexists', values: new Set(), bound: 0 });
    } else if (t.type === 'id') {
      const key = t.text;
      checkKey(key, fail);
      const o = peek();
      if (o.type === ',' || o.type === 'end') {
        requirements.push({ key, op: 'exists', values: new Set(), bound: 0 });
      } else if (o.type === 'op') {
        next();
        if (o.text === '<' || o.text === '>') {
          const v = next();
          if (v.type !== 'id' || !/^-?[0-9]+$/.test(v.text)) {
            fail(`expected an integer after '${o.text}', found ${describe(v)}`);
          }
          requirements.push({ key, op: o.text === '>' ? 'gt' : 'lt', values: new Set(), bound: Number(v.text) });
        } else {
          // `k=` with nothing after it selects the empty value, as in apimachinery parseExactValue.
          let value = '';
          const v = peek();
          if (v.type === 'id') {
            value = v.text;
            next();
          } else if (v.type !== ',' && v.type !== 'end') {
            fail(`expected a value after '${o.text}', found ${describe(v)}`);
          }
          checkValue(value, fail);
          requirements.push({ key, op: o.text === '!=' ? 'notin' : 'in', values: new Set([value]), bound: 0 });
        }
      } else if (o.type === 'in' || o.type === 'notin') {
        next();
        const open = next();
        if (open.type !== '(') fail(`expected '(' after '${o.text}', found ${describe(open)}`);
        const values = new Set<string>();
        if (peek().type === ')') fail(`'${o.text}' needs at least one value at position ${peek().pos}`);
        for (;;) {
          // An empty slot (`(a,)`) stands for the empty value, as in apimachinery parseIdentifiersList.
          let value = '';
          if (peek().type === 'id') value = next().text;
          checkValue(value, fail);
          values.add(value);
          const sep = next();
          if (sep.type === ')') break;
          if (sep.type !== ',') fail(`expected ',' or ')' in value list, found ${describe(sep)}`);
        }
        requirements.push({ key, op: o.type, values, bound: 0 });
      } else {
        fail(`expected an operator (=, ==, !=, in, notin, <, >) or ',' after key '${key}', found ${describe(o)}`);
      }
    } else {
      fail(`expected a label key or '!', found ${describe(t)}`);
    }
    t = next();
    if (t.type === 'end') break;
    if (t.type !== ',') fail(`expected ',' between requirements, found ${describe(t)}`);
    if (peek().type === 'end') fail('trailing comma');
  }
  return { text, requirements };
}

/** True when `labels` satisfy every requirement of `sel` (Kubernetes semantics: `!=`/`notin` also match a missing key). */
export function matches(sel: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of sel.requirements) {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.has(labels[r.key]!)) return false;
        break;
      case 'notin':
        if (has && r.values.has(labels[r.key]!)) return false;
        break;
      case 'gt':
      case 'lt': {
        // apimachinery: the label value must parse as an integer, else the requirement does not match.
        if (!has || !/^-?[0-9]+$/.test(labels[r.key]!)) return false;
        const n = Number(labels[r.key]);
        if (r.op === 'gt' ? !(n > r.bound) : !(n < r.bound)) return false;
        break;
      }
    }
  }
  return true;
}
