/**
 * A cluster read from files instead of the API: a YAML/JSON file or a directory of them holding Kubernetes objects
 * (single objects, multi-document YAML, or `kind: List` exactly as `kubectl get ns,svc,endpointslices,pods -A -o yaml`
 * prints). Edits are picked up while running; a broken edit keeps the last good cluster.
 *
 * Speed and memory: a `.json` List is read in 1 MB chunks and each item goes through JSON.parse on its own
 * (lib/kube/json-list.ts), so a 50 MB listing never exists whole, neither as text nor as one object graph: each
 * item is converted to its slim object and dropped while the next is read, and the garbage dies young instead of
 * filling the old generation. Other JSON is parsed whole with JSON.parse; YAML goes through the `yaml` parser,
 * which keeps positions for error lines but manages only ~1 MB/s, so big clusters should be JSON.
 * Change detection keeps a digest of the files, not their text.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Logger } from 'pino';
import { createRequire } from 'node:module';
import type * as YAML from 'yaml';
import { settleAfterLoad } from './gc.js';
import { JSONListScanner } from './json-list.js';
import { SlimPool, slimObject } from './slim.js';
import type { ClusterSource, ModelSink, Snapshot } from './types.js';

// The YAML parser, loaded on first use: only YAML files and the line of a bad object in a JSON file need it, and
// loading it costs ~40 ms of start-up and a few MB that a server on a JSON fixture (or the API) would keep for nothing.
let yamlModule: typeof YAML | undefined;
function yaml(): typeof YAML {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof YAML);
}

/** File extensions read from a fixture directory. */
export const FIXTURE_EXTENSIONS: readonly string[] = ['.yaml', '.yml', '.json'];

/** A fixture that cannot be loaded. `line` is 1-based, undefined when the problem has no position (unreadable file). */
export class FixtureError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? ':' + line : ''}: ${reason}`);
    this.name = 'FixtureError';
  }
}

/** Options for {@link FixtureSource}. */
export interface FixtureSourceOptions {
  /** A YAML or JSON file, or a directory whose *.yaml, *.yml and *.json files are read (sorted, not recursive). */
  path: string;
  log?: Logger;
  /** Reload on change (default true). */
  watch?: boolean;
  /** Quiet time after the last file event before reloading, in ms (default 50). */
  debounceMs?: number;
  /**
   * Longest a reload is put off by file events that keep coming, in ms (default 10 × debounceMs): a file rewritten
   * more often than the quiet time is still picked up.
   */
  maxWaitMs?: number;
  /**
   * Keep endpoints' `targetRefName` (default true); false leaves it '' to save memory when nothing reads it (only
   * the kubernetes plugin's `endpoint_pod_names` does).
   */
  targetRefNames?: boolean;
}

/** Options for {@link loadFixture}. */
export interface LoadOptions {
  /** As {@link FixtureSourceOptions.targetRefNames}. */
  targetRefNames?: boolean;
}

/** A fixture file's text. */
interface TextFile {
  file: string;
  text: string;
}

/** An object found in a file, with the line it starts on. */
interface Located {
  raw: unknown;
  line: number | undefined;
}

/** The files a fixture path stands for. */
function listFiles(path: string): string[] {
  try {
    return statSync(path).isDirectory()
      ? readdirSync(path)
          // Hidden names are editor droppings (emacs `.#x.yaml` lock links, `.x.yaml.swp`) or ConfigMap internals.
          .filter((f) => !f.startsWith('.') && FIXTURE_EXTENSIONS.includes(extname(f).toLowerCase()))
          .sort()
          .map((f) => join(path, f))
          .filter(isFile)
      : [path];
  } catch (err) {
    throw new FixtureError(path, undefined, `cannot read fixture: ${(err as Error).message}`);
  }
}

// Files are read in chunks of this size, so a big fixture is never held whole (as bytes or as text) unless it has to
// be parsed whole (YAML, or JSON that is not a List).
const CHUNK_BYTES = 1 << 20;

function cannotRead(file: string, err: unknown): FixtureError {
  return new FixtureError(file, undefined, `cannot read fixture: ${(err as Error).message}`);
}

/** Calls `each` with consecutive chunks of `file` (views of `chunk`, reused) until the end or until it returns false. */
function readChunks(file: string, chunk: Buffer, each: (bytes: Buffer) => boolean): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw cannotRead(file, err);
  }
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        throw cannotRead(file, err);
      }
      if (n === 0 || !each(chunk.subarray(0, n))) return;
    }
  } finally {
    closeSync(fd);
  }
}

/** The whole text of `file`, and the digest of its bytes. */
function readText(file: string): { src: TextFile; digest: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw cannotRead(file, err);
  }
  const digest = createHash('sha1').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  // A byte-order mark is legal at the start of YAML but not of JSON.
  return { src: { file, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text }, digest };
}

/** The digest of one file's bytes, read in chunks. */
function fileDigest(file: string, chunk: Buffer): string {
  const h = createHash('sha1');
  readChunks(file, chunk, (bytes) => {
    h.update(bytes);
    return true;
  });
  return h.digest('hex');
}

/** One digest for a set of files and their contents, to tell a real edit from a save of the same content. */
function combine(files: readonly string[], digests: readonly string[]): string {
  // NUL cannot appear in a file name, so it separates the (name, digest) pairs.
  return createHash('sha1').update(files.map((f, i) => `${f}\0${digests[i]}`).join('\0')).digest('hex');
}

/** The digest of the fixture files as they are now (what {@link parseFiles} would report for them). */
function digestFiles(files: readonly string[]): string {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  return combine(files, files.map((f) => fileDigest(f, chunk)));
}

/** True for a regular file or a symlink to one (ConfigMap volumes hold symlinks). */
function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false; // a dangling symlink
  }
}

function isListKind(v: unknown): v is { kind: string; items?: unknown } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const kind = (v as { kind?: unknown }).kind;
  // `kubectl get a,b -o yaml` prints `kind: List`; the API's own lists are ServiceList, PodList, ...
  return typeof kind === 'string' && kind.endsWith('List') && 'items' in v;
}

/** Expands lists (and top-level sequences) into their objects; `at(i)` gives the line of the i-th item. */
function expand(
  file: string,
  value: unknown,
  line: number | undefined,
  at: (path: number[]) => number | undefined,
  path: number[],
  out: Located[],
): void {
  let items: unknown;
  if (Array.isArray(value)) items = value;
  else if (isListKind(value)) items = value.items ?? [];
  else {
    out.push({ raw: value, line });
    return;
  }
  if (!Array.isArray(items)) throw new FixtureError(file, line, `${(value as { kind: string }).kind}.items must be a list`);
  items.forEach((item, i) => {
    const p = [...path, i];
    expand(file, item, at(p), at, p, out);
  });
}

/** The node of a list item: a top-level sequence element or `items[i]` of a List, followed along `path`. */
function itemNode(doc: YAML.Document, path: number[]): { range?: [number, number, number] | null } | undefined {
  let node: unknown = doc.contents;
  for (const i of path) {
    if (yaml().isMap(node)) node = node.get('items', true);
    if (!yaml().isSeq(node)) return undefined;
    node = node.items[i];
  }
  return node as { range?: [number, number, number] | null } | undefined;
}

/** Objects of one YAML (or JSON, which YAML 1.2 includes) file, each with its line. */
function locateYAML(src: TextFile): Located[] {
  const { LineCounter, parseAllDocuments } = yaml();
  const lc = new LineCounter();
  const docs = parseAllDocuments(src.text, { lineCounter: lc, uniqueKeys: true });
  // parseAllDocuments returns an EmptyStream (an array with .empty) for a file without documents.
  const out: Located[] = [];
  for (const doc of docs as YAML.Document[]) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0].line;
      throw new FixtureError(src.file, line, `YAML syntax error: ${err.message.split('\n')[0]}`);
    }
    const lineOf = (offset: number | undefined): number | undefined =>
      offset === undefined ? undefined : lc.linePos(offset).line;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      // e.g. too many alias expansions (a "billion laughs" document)
      throw new FixtureError(src.file, lineOf(doc.contents?.range?.[0]), `YAML error: ${(err as Error).message}`);
    }
    // An empty document (only comments, or after a trailing `---`) holds nothing.
    if (value === null || value === undefined || doc.contents === null) continue;
    expand(
      src.file,
      value,
      lineOf(doc.contents.range?.[0]),
      (path) => lineOf(itemNode(doc, path)?.range?.[0] ?? undefined),
      [],
      out,
    );
  }
  return out;
}

function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Converts one raw object into the snapshot (ignored kinds are listed in `ignored`). @throws Error if malformed. */
function convert(raw: unknown, snap: Snapshot, ignored: string[], pool: SlimPool): void {
  const r = slimObject(raw, pool);
  if (r === null) {
    const o = raw as { kind?: unknown; apiVersion?: unknown };
    ignored.push(`${String(o.kind)} ${String(o.apiVersion)}`);
    return;
  }
  switch (r.kind) {
    case 'Service':
      snap.services.push(r.obj);
      break;
    case 'EndpointSlice':
      snap.endpointSlices.push(r.obj);
      break;
    case 'Namespace':
      snap.namespaces.push(r.obj);
      break;
    case 'Pod':
      snap.pods.push(r.obj);
      break;
  }
}

/** Converts one file's objects into the snapshot; object errors get the object's line. */
function collect(src: TextFile, objs: Located[], snap: Snapshot, ignored: string[], pool: SlimPool): void {
  for (const { raw, line } of objs) {
    try {
      convert(raw, snap, ignored, pool);
    } catch (err) {
      throw new FixtureError(src.file, line, (err as Error).message);
    }
  }
}

/** Slow path for a bad object in a JSON file: parse it again with positions to find the line it starts on. */
function relocate(src: TextFile, err: FixtureError): FixtureError {
  try {
    collect(src, locateYAML(src), emptySnapshot(), [], new SlimPool());
  } catch (again) {
    // Only trust the second opinion when it found the same problem (the YAML parser could object to other things).
    if (again instanceof FixtureError && again.reason === err.reason) return again;
  }
  return err;
}

function emptySnapshot(): Snapshot {
  return { services: [], endpointSlices: [], namespaces: [], pods: [] };
}

/**
 * The fast path for a JSON List: read in chunks, each item parsed and converted on its own, so neither the file's
 * text nor its object graph ever exists whole, and the garbage of the load dies young. Returns the file's digest,
 * or null, having added nothing, when the file is not such a List or does not parse; the caller then reads it
 * whole, which also reports syntax errors as before.
 * @throws FixtureError for a malformed object, with the line its item starts on.
 */
function streamJSONList(file: string, chunk: Buffer, snap: Snapshot, ignored: string[], pool: SlimPool): string | null {
  const marks = [snap.services.length, snap.endpointSlices.length, snap.namespaces.length, snap.pods.length, ignored.length];
  const h = createHash('sha1');
  const scanner = new JSONListScanner((text, line) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return false;
    }
    // A list inside the list: rare, so the whole-file path (with its line finding) handles it.
    if (Array.isArray(value) || isListKind(value)) return false;
    try {
      convert(value, snap, ignored, pool);
    } catch (err) {
      throw new FixtureError(file, line, (err as Error).message);
    }
    return true;
  });
  let ok = true;
  readChunks(file, chunk, (bytes) => {
    h.update(bytes);
    ok = scanner.push(bytes);
    return ok;
  });
  if (ok && isListKind(scanner.end())) return h.digest('hex');
  // Undo this file's additions: the whole-file path starts it again.
  snap.services.length = marks[0]!;
  snap.endpointSlices.length = marks[1]!;
  snap.namespaces.length = marks[2]!;
  snap.pods.length = marks[3]!;
  ignored.length = marks[4]!;
  return null;
}

/** Parses the fixture files into a snapshot, with the digest of what was parsed. */
function parseFiles(files: readonly string[], ignored: string[], opts: LoadOptions): { snap: Snapshot; digest: string } {
  const snap = emptySnapshot();
  // One pool per load: the objects of this load share strings, label sets and port lists; then the pool goes.
  const pool = new SlimPool({ targetRefNames: opts.targetRefNames ?? true });
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const digests: string[] = [];
  for (const file of files) {
    const json = extname(file).toLowerCase() === '.json';
    if (json) {
      const d = streamJSONList(file, chunk, snap, ignored, pool);
      if (d !== null) {
        digests.push(d);
        continue;
      }
    }
    const { src, digest } = readText(file);
    digests.push(digest);
    if (!json) {
      collect(src, locateYAML(src), snap, ignored, pool);
      continue;
    }
    // JSON.parse is much faster than the YAML parser; the YAML parser is only needed to find the line of a bad
    // object.
    let value: unknown;
    try {
      value = JSON.parse(src.text);
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /position (\d+)/.exec(msg);
      throw new FixtureError(src.file, pos ? lineAtOffset(src.text, Number(pos[1])) : undefined, `JSON syntax error: ${msg}`);
    }
    const objs: Located[] = [];
    expand(src.file, value, 1, () => undefined, [], objs);
    try {
      collect(src, objs, snap, ignored, pool);
    } catch (err) {
      if (!(err instanceof FixtureError)) throw err;
      throw relocate(src, err);
    }
  }
  return { snap, digest: combine(files, digests) };
}

/**
 * Loads a fixture file or directory synchronously (for tools, tests and benchmarks).
 * @throws FixtureError naming the file and, where there is one, the line.
 */
export function loadFixture(path: string, opts: LoadOptions = {}): Snapshot {
  return parseFiles(listFiles(path), [], opts).snap;
}

function objectCount(snap: Snapshot): number {
  return snap.services.length + snap.endpointSlices.length + snap.namespaces.length + snap.pods.length;
}

/** Writes a fixture cluster into the model, and again whenever the files change. */
export class FixtureSource implements ClusterSource {
  readonly #path: string;
  readonly #log: Logger | undefined;
  readonly #watch: boolean;
  readonly #debounceMs: number;
  readonly #maxWaitMs: number;
  // When the first file event of the pending reload came (performance.now()).
  #firstEvent = 0;
  readonly #load: LoadOptions;
  #synced = false;
  #sink: ModelSink | null = null;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  // Digest of the files last loaded successfully: identical content is not parsed again (editors fire several
  // events). A digest, not the text: the text of a big cluster would double what the process holds.
  #lastDigest: string | null = null;

  constructor(opts: FixtureSourceOptions) {
    this.#path = opts.path;
    this.#log = opts.log;
    this.#watch = opts.watch ?? true;
    this.#debounceMs = opts.debounceMs ?? 50;
    this.#maxWaitMs = opts.maxWaitMs ?? 10 * this.#debounceMs;
    this.#load = { targetRefNames: opts.targetRefNames ?? true };
  }

  /** True once the first listing has been delivered. */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Loads the fixture into `sink` (one `replace`) and starts watching.
   * @throws FixtureError (as a rejection) when the initial load fails; nothing is watched then.
   */
  async start(sink: ModelSink): Promise<void> {
    if (this.#sink) throw new Error('FixtureSource already started');
    const ignored: string[] = [];
    const { snap, digest } = parseFiles(listFiles(this.#path), ignored, this.#load);
    this.#sink = sink;
    this.#lastDigest = digest;
    sink.replace(snap);
    this.#synced = true;
    this.#logLoaded('fixture loaded', snap, ignored);
    this.#settle(snap);
    if (this.#watch) this.#startWatch();
  }

  /** Stops watching. Safe to call more than once. */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#watcher?.close();
    this.#watcher = null;
  }

  #startWatch(): void {
    let isDir: boolean;
    try {
      isDir = statSync(this.#path).isDirectory();
    } catch {
      isDir = false;
    }
    // Watch the directory, not the file: editors that save by writing a new file and renaming it over the old one
    // replace the inode, and a watch on the file itself would go deaf after the first save.
    const dir = isDir ? this.#path : dirname(this.#path);
    const base = basename(this.#path);
    this.#watcher = watch(dir, { persistent: false }, (_event, filename) => {
      const name = filename === null ? null : filename.toString();
      // In single-file mode other files in the directory are none of our business, except `..data`-style names:
      // Kubernetes ConfigMap volumes swap a `..data` symlink to update every file at once.
      if (!isDir && name !== null && name !== base && !name.startsWith('..')) return;
      this.#schedule();
    });
    this.#watcher.on('error', (err) => {
      this.#log?.error({ file: this.#path, err }, 'fixture watch failed; edits are no longer picked up');
    });
  }

  #schedule(): void {
    const now = performance.now();
    if (this.#timer) clearTimeout(this.#timer);
    else this.#firstEvent = now;
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstEvent + this.#maxWaitMs - now));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reload();
    }, wait);
    this.#timer.unref?.();
  }

  #reload(): void {
    if (!this.#sink) return;
    let snap: Snapshot;
    const ignored: string[] = [];
    try {
      const files = listFiles(this.#path);
      if (digestFiles(files) === this.#lastDigest) {
        this.#log?.debug({ file: this.#path }, 'fixture unchanged');
        return;
      }
      const parsed = parseFiles(files, ignored, this.#load);
      snap = parsed.snap;
      this.#lastDigest = parsed.digest;
    } catch (err) {
      if (err instanceof FixtureError) {
        this.#log?.error({ file: err.file, line: err.line }, `fixture not reloaded, keeping the last good cluster: ${err.message}`);
      } else {
        this.#log?.error({ file: this.#path, err }, 'fixture not reloaded, keeping the last good cluster');
      }
      return;
    }
    this.#sink.replace(snap);
    this.#logLoaded('fixture reloaded', snap, ignored);
    this.#settle(snap);
  }

  // After a big load, collect its garbage once the first answers had their chance to go out: the collection
  // compacts the heap and stops everything for ~0.1-0.2 s at 10,000 Services (lib/kube/gc.ts).
  #settle(snap: Snapshot): void {
    settleAfterLoad(objectCount(snap));
  }

  #logLoaded(msg: string, snap: Snapshot, ignored: string[]): void {
    if (!this.#log) return;
    this.#log.info(
      {
        file: this.#path,
        namespaces: snap.namespaces.length,
        services: snap.services.length,
        endpointSlices: snap.endpointSlices.length,
        pods: snap.pods.length,
        ignored: ignored.length,
      },
      msg,
    );
    // Objects of watched kinds with another apiVersion are most likely mistakes; say so once per load.
    const suspicious = ignored.filter((k) => /^(Service|EndpointSlice|Namespace|Pod) /.test(k));
    if (suspicious.length > 0) {
      this.#log.warn({ file: this.#path, objects: [...new Set(suspicious)] }, 'fixture objects ignored: unsupported apiVersion');
    }
  }
}
