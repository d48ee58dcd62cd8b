/**
 * Reads a JSON `kind: List` (what `kubectl get ... -o json` prints) one item at a time from chunks of bytes, so a
 * big listing is never held whole: neither its text nor its object graph. The scanner follows only nesting and
 * strings; it hands each item's text to a callback (which parses it) and keeps the list without its items (the
 * envelope), which {@link JSONListScanner.end} parses to check that the rest of the file is a well-formed List.
 *
 * Anything else (a single object, a top-level array, `items` spelled with escapes, broken nesting) makes the
 * scanner give up, and the caller reads the file the ordinary way, which also reports syntax errors.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const ITEMS = Buffer.from('items');
const BOM = [0xef, 0xbb, 0xbf];

/** Receives one item's JSON text and the 1-based line it starts on; returns false to stop the scan. */
export type ItemSink = (text: string, line: number) => boolean;

function isSpace(c: number): boolean {
  return c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09;
}

// Where the scan is: before the items array, inside it, after it.
const BEFORE = 0;
const INSIDE = 1;
const AFTER = 2;

/** Feed chunks with {@link push}, then call {@link end}. */
export class JSONListScanner {
  readonly #onItem: ItemSink;
  readonly #maxEnvelope: number;
  #failed = false;
  #first = true;
  // Bytes of a leading byte-order mark seen so far; -1 once it can no longer come.
  #bom = 0;
  #started = false;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #line = 1;
  #phase = BEFORE;
  // Key tracking at depth 1: where the current key string started in this chunk (-1: not in a depth-1 string),
  // the bytes of it seen in earlier chunks, and whether the last depth-1 string was `items`.
  #keyFrom = -1;
  #keyHead: number[] = [];
  #lastKeyItems = false;
  // The region being collected: the envelope before or after the items, or one item. `#from` is its start in the
  // current chunk (-1: nothing collected), `#parts` what earlier chunks held of it.
  #from = -1;
  #parts: Buffer[] = [];
  #itemLine = 0;
  #itemOpen = false;
  #envelope: Buffer[] = [];
  #envelopeBytes = 0;

  /** `maxEnvelope`: give up when the text around the items grows beyond this many bytes (not a List after all). */
  constructor(onItem: ItemSink, maxEnvelope = 1 << 20) {
    this.#onItem = onItem;
    this.#maxEnvelope = maxEnvelope;
  }

  /** Scans the next chunk (it may be reused once this returns). False once the scan has given up or was stopped. */
  push(buf: Buffer): boolean {
    if (this.#failed) return false;
    const n = buf.length;
    let i = 0;
    if (this.#first) {
      this.#first = false;
      this.#from = 0;
    }
    // The hot loop works on locals (a byte at a time, ~60 MB per cluster), written back at the end.
    let depth = this.#depth;
    let line = this.#line;
    while (i < n) {
      if (this.#inString) {
        // Strings are most of the bytes: skip them in a small function of their own (cheaper than Buffer.indexOf
        // per string, and quick to optimise, which matters as the whole scan runs once).
        let j = i;
        if (this.#escaped) {
          this.#escaped = false;
          j++;
        }
        j = stringEnd(buf, j, n);
        if (j >= n) {
          if (j > n) this.#escaped = true; // the chunk ended with a backslash
          break;
        }
        this.#inString = false;
        if (depth === 1) this.#lastKeyItems = this.#keyIs(buf, j);
        i = j + 1;
        continue;
      }
      const c = buf[i]!;
      if (c === QUOTE) {
        this.#inString = true;
        if (depth === 1) {
          this.#keyFrom = i + 1;
          this.#keyHead.length = 0;
        } else if (depth === 2 && this.#phase === INSIDE && !this.#itemOpen) this.#openItem(i, line);
      } else if (c === LBRACE || c === LBRACKET) {
        if (!this.#started) {
          this.#started = true;
          if (c !== LBRACE) return this.#fail();
          // The envelope starts here: what came before was whitespace or a byte-order mark.
          this.#parts = [];
          this.#envelopeBytes = 0;
          this.#from = i;
        }
        if (depth === 1 && c === LBRACKET && this.#lastKeyItems) {
          if (this.#phase !== BEFORE) return this.#fail(); // a second `items`: leave duplicate keys to JSON.parse
          this.#keep(buf, i);
          this.#envelope.push(...this.#parts, Buffer.from('[]'));
          this.#parts = [];
          this.#from = -1;
          this.#phase = INSIDE;
        } else if (depth === 2 && this.#phase === INSIDE && !this.#itemOpen) this.#openItem(i, line);
        depth++;
      } else if (c === RBRACE || c === RBRACKET) {
        if (depth === 2 && this.#phase === INSIDE) {
          if (c !== RBRACKET) return this.#fail();
          if (this.#itemOpen && !this.#closeItem(buf, i)) return this.#fail();
          this.#phase = AFTER;
          this.#from = i + 1;
        }
        if (--depth < 0) return this.#fail();
      } else if (c === NEWLINE) {
        line++;
      } else if (depth === 2 && this.#phase === INSIDE) {
        if (c === COMMA) {
          if (!this.#itemOpen || !this.#closeItem(buf, i)) return this.#fail();
        } else if (!this.#itemOpen && !isSpace(c)) this.#openItem(i, line);
      } else if (!this.#started) {
        // A byte-order mark is not JSON, but editors write one; it may only come first. Anything else that is not
        // whitespace is a top-level scalar.
        if (this.#bom >= 0 && c === BOM[this.#bom]) this.#bom++;
        else if (isSpace(c) && (this.#bom === 0 || this.#bom === BOM.length)) this.#bom = -1;
        else if (!isSpace(c) || this.#bom > 0) return this.#fail();
      }
      i++;
    }
    this.#depth = depth;
    this.#line = line;
    // A key running into the next chunk (even one whose opening quote ended this chunk).
    if (this.#inString && depth === 1) this.#keepKeyHead(buf, n);
    // Whatever is being collected continues in the next chunk: keep a copy of this chunk's part of it.
    if (this.#from >= 0) {
      this.#keep(buf, n);
      this.#from = 0;
      if (this.#phase !== INSIDE && this.#envelopeBytes > this.#maxEnvelope) return this.#fail();
    }
    return true;
  }

  /**
   * Finishes the scan: the envelope (the List with `items: []`) when the whole input was a well-formed List whose
   * items all reached the callback, else null.
   */
  end(): Record<string, unknown> | null {
    if (this.#failed || this.#phase !== AFTER || this.#depth !== 0 || this.#inString) return null;
    const text = Buffer.concat([...this.#envelope, ...this.#parts]).toString('utf8');
    let env: unknown;
    try {
      env = JSON.parse(text);
    } catch {
      return null;
    }
    if (typeof env !== 'object' || env === null || Array.isArray(env)) return null;
    const items = (env as { items?: unknown }).items;
    return Array.isArray(items) && items.length === 0 ? (env as Record<string, unknown>) : null;
  }

  #fail(): false {
    this.#failed = true;
    this.#parts = [];
    this.#envelope = [];
    return false;
  }

  // Copies buf[#from, to) into #parts (the chunk is reused by the caller).
  #keep(buf: Buffer, to: number): void {
    if (this.#from < 0 || to <= this.#from) return;
    this.#parts.push(Buffer.from(buf.subarray(this.#from, to)));
    if (this.#phase !== INSIDE) this.#envelopeBytes += to - this.#from;
  }

  #openItem(i: number, line: number): void {
    // Text between items (whitespace, the commas) belongs to nobody.
    this.#itemOpen = true;
    this.#itemLine = line;
    this.#from = i;
    this.#parts = [];
  }

  #closeItem(buf: Buffer, end: number): boolean {
    let text: string;
    if (this.#parts.length === 0) text = buf.toString('utf8', this.#from, end);
    else text = Buffer.concat([...this.#parts, buf.subarray(this.#from, end)]).toString('utf8');
    this.#parts = [];
    this.#from = -1;
    this.#itemOpen = false;
    return this.#onItem(text, this.#itemLine);
  }

  // A depth-1 string running past the chunk: keep its first bytes, enough to tell whether it is `items`.
  #keepKeyHead(buf: Buffer, n: number): void {
    for (let k = Math.max(this.#keyFrom, 0); k < n && this.#keyHead.length <= ITEMS.length; k++) this.#keyHead.push(buf[k]!);
    this.#keyFrom = 0;
  }

  #keyIs(buf: Buffer, close: number): boolean {
    const head = this.#keyHead;
    const from = Math.max(this.#keyFrom, 0);
    if (head.length + (close - from) !== ITEMS.length) return false;
    for (let k = 0; k < ITEMS.length; k++) {
      const b = k < head.length ? head[k] : buf[from + k - head.length];
      if (b !== ITEMS[k]) return false;
    }
    return true;
  }
}

// The offset of the quote closing a string whose content starts at `j`; `n` when the chunk ends inside the string,
// `n + 1` when it ends right after a backslash (the next chunk's first byte is escaped).
function stringEnd(buf: Uint8Array, j: number, n: number): number {
  for (; j < n; j++) {
    const b = buf[j];
    if (b === QUOTE) return j;
    if (b === BACKSLASH && ++j >= n) return n + 1;
  }
  return n;
}
