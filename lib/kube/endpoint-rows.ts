/**
 * Builds and reads the endpoint columns of an EndpointSlice (lib/kube/types.ts EndpointRows): one row per address,
 * a slot per row in each column that has content, and the not-ready rows listed apart (few endpoints are not ready).
 */
// NO_STRINGS / NO_NUMBERS stand for every slice without not-ready rows, hostnames or Pod names (most slices).
import { NO_NUMBERS, NO_STRINGS, sameItems } from '../util/arrays.js';
import type { EndpointRows } from './types.js';

/** One endpoint row as a reader sees it (for tests and tools; the model holds only the columns). */
export interface EndpointRow {
  address: string;
  ready: boolean;
  hostname: string;
  targetRefName: string;
}

/** Collects rows in order, then gives their columns in canonical form. Use once per slice. */
export class EndpointRowsBuilder {
  #addresses: string[];
  #notReady: number[] | null = null;
  #hostnames: string[] | null = null;
  #targetRefNames: string[] | null = null;
  #n = 0;

  /** `expected`: how many rows are likely (endpoints usually have one address), so the columns are sized once. */
  constructor(expected = 0) {
    this.#addresses = new Array<string>(expected);
  }

  /** Appends a row. */
  add(address: string, ready: boolean, hostname: string, targetRefName: string): void {
    const r = this.#n++;
    this.#addresses[r] = address;
    if (!ready) (this.#notReady ??= []).push(r);
    if (this.#hostnames !== null) this.#hostnames[r] = hostname;
    else if (hostname !== '') this.#hostnames = this.#column(r, hostname);
    if (this.#targetRefNames !== null) this.#targetRefNames[r] = targetRefName;
    else if (targetRefName !== '') this.#targetRefNames = this.#column(r, targetRefName);
  }

  /** The columns of the rows added. */
  build(): EndpointRows {
    return {
      addresses: this.#exact(this.#addresses),
      notReady: this.#notReady === null ? NO_NUMBERS : this.#notReady.slice(),
      hostnames: this.#hostnames === null ? NO_STRINGS : this.#exact(this.#hostnames),
      targetRefNames: this.#targetRefNames === null ? NO_STRINGS : this.#exact(this.#targetRefNames),
    };
  }

  // A column starting at row r: '' for the rows before it, sized like the address column.
  #column(r: number, value: string): string[] {
    const col = new Array<string>(Math.max(this.#addresses.length, r + 1)).fill('', 0, r);
    col[r] = value;
    return col;
  }

  // Exact-size: an array with spare slots keeps them for as long as the slice lives.
  #exact(col: string[]): readonly string[] {
    const n = this.#n;
    if (n === 0) return NO_STRINGS;
    return col.length === n ? col : col.slice(0, n);
  }
}

/** Row `r`'s hostname ('' when unset). */
export function hostnameAt(rows: EndpointRows, r: number): string {
  return rows.hostnames.length === 0 ? '' : rows.hostnames[r]!;
}

/** Row `r`'s Pod name ('' when none is kept). */
export function targetRefNameAt(rows: EndpointRows, r: number): string {
  return rows.targetRefNames.length === 0 ? '' : rows.targetRefNames[r]!;
}

/** Number of ready rows. */
export function readyRowCount(rows: EndpointRows): number {
  return rows.addresses.length - rows.notReady.length;
}

/** True when both hold the same rows (columns are canonical, so equal rows have equal columns). */
export function sameRows(a: EndpointRows, b: EndpointRows): boolean {
  return (
    sameItems(a.addresses, b.addresses) &&
    sameItems(a.notReady, b.notReady) &&
    sameItems(a.hostnames, b.hostnames) &&
    sameItems(a.targetRefNames, b.targetRefNames)
  );
}

/** The rows one by one (for tests and tools: this allocates an object per row). */
export function rowList(rows: EndpointRows): EndpointRow[] {
  const out: EndpointRow[] = [];
  let k = 0;
  for (let r = 0; r < rows.addresses.length; r++) {
    const ready = rows.notReady[k] !== r;
    if (!ready) k++;
    out.push({ address: rows.addresses[r]!, ready, hostname: hostnameAt(rows, r), targetRefName: targetRefNameAt(rows, r) });
  }
  return out;
}

/** The columns of `list` (for tests and tools). */
export function rowsOf(list: readonly EndpointRow[]): EndpointRows {
  const b = new EndpointRowsBuilder(list.length);
  for (const row of list) b.add(row.address, row.ready, row.hostname, row.targetRefName);
  return b.build();
}
