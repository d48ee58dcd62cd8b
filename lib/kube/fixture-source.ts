/**
 * A cluster read from files instead of the API: a YAML/JSON file or a directory of them holding Kubernetes objects
 * (single objects, multi-document YAML, or `kind: List` exactly as `kubectl get ns,svc,endpointslices,pods -A -o yaml`
 * prints). Edits are picked up while running; a broken edit keeps the last good cluster.
 *
 * Speed: `.json` files go through JSON.parse (~25 MB/s); YAML goes through the `yaml` parser, which keeps positions
 * for error lines but manages only ~1 MB/s, so big generated clusters (benchmarks) should be JSON.
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Logger } from 'pino';
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { slimObject } from './slim.js';
import type { ClusterSource, ModelSink, Snapshot } from './types.js';

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
}

interface SourceFile {
  file: string;
  text: string;
}

/** An object found in a file, with the line it starts on. */
interface Located {
  raw: unknown;
  line: number | undefined;
}

/** The files a fixture path stands for, with their content. */
function readSources(path: string): SourceFile[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
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
  return files.map((file) => {
    try {
      const text = readFileSync(file, 'utf8');
      // A byte-order mark is legal at the start of YAML but not of JSON.
      return { file, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
    } catch (err) {
      throw new FixtureError(file, undefined, `cannot read fixture: ${(err as Error).message}`);
    }
  });
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
function itemNode(doc: Document, path: number[]): { range?: [number, number, number] | null } | undefined {
  let node: unknown = doc.contents;
  for (const i of path) {
    if (isMap(node)) node = node.get('items', true);
    if (!isSeq(node)) return undefined;
    node = node.items[i];
  }
  return node as { range?: [number, number, number] | null } | undefined;
}

/** Objects of one YAML (or JSON, which YAML 1.2 includes) file, each with its line. */
function locateYAML(src: SourceFile): Located[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(src.text, { lineCounter: lc, uniqueKeys: true });
  // parseAllDocuments returns an EmptyStream (an array with .empty) for a file without documents.
  const out: Located[] = [];
  for (const doc of docs as Document[]) {
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

/** Converts one file's objects into the snapshot; object errors get the object's line. */
function collect(src: SourceFile, objs: Located[], snap: Snapshot, ignored: string[]): void {
  for (const { raw, line } of objs) {
    let r;
    try {
      r = slimObject(raw);
    } catch (err) {
      throw new FixtureError(src.file, line, (err as Error).message);
    }
    if (r === null) {
      const o = raw as { kind?: unknown; apiVersion?: unknown };
      ignored.push(`${String(o.kind)} ${String(o.apiVersion)}`);
      continue;
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
}

/** Slow path for a bad object in a JSON file: parse it again with positions to find the line it starts on. */
function relocate(src: SourceFile, err: FixtureError): FixtureError {
  try {
    collect(src, locateYAML(src), { services: [], endpointSlices: [], namespaces: [], pods: [] }, []);
  } catch (again) {
    // Only trust the second opinion when it found the same problem (the YAML parser could object to other things).
    if (again instanceof FixtureError && again.reason === err.reason) return again;
  }
  return err;
}

function parseSources(sources: SourceFile[], ignored: string[] = []): Snapshot {
  const snap: Snapshot = { services: [], endpointSlices: [], namespaces: [], pods: [] };
  for (const src of sources) {
    if (extname(src.file).toLowerCase() === '.json') {
      // JSON.parse is much faster than the YAML parser on big listings; the YAML parser is only needed to find the
      // line of a bad object.
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
        collect(src, objs, snap, ignored);
      } catch (err) {
        if (!(err instanceof FixtureError)) throw err;
        throw relocate(src, err);
      }
    } else {
      collect(src, locateYAML(src), snap, ignored);
    }
  }
  return snap;
}

/**
 * Loads a fixture file or directory synchronously (for tools, tests and benchmarks).
 * @throws FixtureError naming the file and, where there is one, the line.
 */
export function loadFixture(path: string): Snapshot {
  return parseSources(readSources(path));
}

/** Writes a fixture cluster into the model, and again whenever the files change. */
export class FixtureSource implements ClusterSource {
  readonly #path: string;
  readonly #log: Logger | undefined;
  readonly #watch: boolean;
  readonly #debounceMs: number;
  #synced = false;
  #sink: ModelSink | null = null;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  // The text last loaded successfully: identical content is not parsed again (editors fire several events).
  #lastText: string | null = null;

  constructor(opts: FixtureSourceOptions) {
    this.#path = opts.path;
    this.#log = opts.log;
    this.#watch = opts.watch ?? true;
    this.#debounceMs = opts.debounceMs ?? 50;
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
    const sources = readSources(this.#path);
    const ignored: string[] = [];
    const snap = parseSources(sources, ignored);
    this.#sink = sink;
    this.#lastText = joinText(sources);
    sink.replace(snap);
    this.#synced = true;
    this.#logLoaded('fixture loaded', snap, ignored);
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
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reload();
    }, this.#debounceMs);
    this.#timer.unref?.();
  }

  #reload(): void {
    if (!this.#sink) return;
    let sources: SourceFile[];
    let snap: Snapshot;
    const ignored: string[] = [];
    try {
      sources = readSources(this.#path);
      const text = joinText(sources);
      if (text === this.#lastText) {
        this.#log?.debug({ file: this.#path }, 'fixture unchanged');
        return;
      }
      snap = parseSources(sources, ignored);
      this.#lastText = text;
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

function joinText(sources: SourceFile[]): string {
  // NUL cannot appear in a file name, so this separates (name, text) pairs unambiguously enough for change detection.
  return sources.map((s) => `${s.file}\0${s.text}`).join('\0');
}
