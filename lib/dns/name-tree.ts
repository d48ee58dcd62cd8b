/**
 * Values filed under domain names, kept as a tree of the names, so that everything at or below a name can be found
 * by visiting that name's subtree instead of scanning every value held. Stores whose entries must be dropped by name
 * suffix (the cache when a cluster change invalidates names) use it: a watch event then costs in proportion to the
 * entries it affects, not to the store's size (a scan of a full cache per suffix took ~5 ms, and one EndpointSlice
 * of 100 endpoints announces ~200 suffixes).
 *
 * Names are lower-case absolute presentation names (escaped dots do not split labels, see name.ts). Only names that
 * hold values, and their ancestors, are in the tree; an ancestor leaves it when nothing is held below it any more.
 */
import { parentName } from './name.js';

export class NameTree<V> {
  // A name's values: one value alone (the common case) or an array of several; names without values are absent.
  readonly #values = new Map<string, V | V[]>();
  // A name's children that hold values or have descendants that do; names without such children are absent.
  readonly #children = new Map<string, Set<string>>();
  #count = 0;

  /** Values held. */
  get size(): number {
    return this.#count;
  }

  /** Names in the tree: those holding values and their ancestors (what its memory grows with). */
  get names(): number {
    let n = this.#values.size;
    for (const name of this.#children.keys()) if (!this.#values.has(name)) n++;
    return n;
  }

  /** Files `value` under `name` (a value already held there is not added twice). */
  add(name: string, value: V): void {
    const held = this.#values.get(name);
    if (held === undefined) {
      this.#values.set(name, value);
      this.#link(name);
    } else if (Array.isArray(held)) {
      if (held.includes(value)) return;
      held.push(value);
    } else {
      if (held === value) return;
      this.#values.set(name, [held, value]);
    }
    this.#count++;
  }

  /** Removes `value` from under `name`; false when it was not there. */
  delete(name: string, value: V): boolean {
    const held = this.#values.get(name);
    if (held === undefined) return false;
    if (Array.isArray(held)) {
      const i = held.indexOf(value);
      if (i < 0) return false;
      held.splice(i, 1);
      if (held.length === 1) this.#values.set(name, held[0]!);
    } else {
      if (held !== value) return false;
      this.#values.delete(name);
      this.#unlink(name);
    }
    this.#count--;
    return true;
  }

  /** The values held at `name` itself (a new array). */
  at(name: string): V[] {
    const held = this.#values.get(name);
    return held === undefined ? [] : Array.isArray(held) ? held.slice() : [held];
  }

  /** Every value held at `suffix` or below it ('.' for all), appended to `out`. */
  under(suffix: string, out: V[] = []): V[] {
    const stack = [suffix];
    for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
      const held = this.#values.get(name);
      if (held !== undefined) {
        if (Array.isArray(held)) out.push(...held);
        else out.push(held);
      }
      const kids = this.#children.get(name);
      if (kids !== undefined) for (const k of kids) stack.push(k);
    }
    return out;
  }

  /** Forgets everything. */
  clear(): void {
    this.#values.clear();
    this.#children.clear();
    this.#count = 0;
  }

  // Makes `name` reachable from the root: each ancestor lists the next one down, up to the first already linked.
  #link(name: string): void {
    for (let child = name, parent = parentName(name); parent !== null; child = parent, parent = parentName(parent)) {
      const kids = this.#children.get(parent);
      if (kids !== undefined) {
        kids.add(child);
        return;
      }
      this.#children.set(parent, new Set([child]));
      // A parent holding values was linked when they were added.
      if (this.#values.has(parent)) return;
    }
  }

  // Drops `name` (which holds nothing now) and every ancestor left holding nothing and leading nowhere.
  #unlink(name: string): void {
    for (let child = name, parent = parentName(name); parent !== null; child = parent, parent = parentName(parent)) {
      if (this.#values.has(child) || this.#children.has(child)) return;
      const kids = this.#children.get(parent);
      if (kids === undefined) return;
      kids.delete(child);
      if (kids.size > 0) return;
      this.#children.delete(parent);
    }
  }
}
