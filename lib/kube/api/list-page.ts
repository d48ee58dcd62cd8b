/**
 * Reads one page of an API list (`{"kind":"ServiceList","metadata":{...},"items":[...]}`) an item at a time as its
 * bytes arrive, with the fixture source's scanner (lib/kube/json-list.ts), instead of collecting the page and
 * parsing it whole.
 *
 * Why: a page of 500 EndpointSlices is 1-3 MB of JSON. Held whole, it is a concatenated Buffer and then (Node
 * copies large ASCII text out of the V8 heap) an external string of that size, both from malloc: after the first
 * such block is freed glibc raises its mmap threshold to the page's size, so every later page comes from the malloc
 * heap, whose freed holes are never given back to the system. At 10,000 Services that kept ~25 MB more RSS after
 * sync than the same cluster loaded from a fixture; and the page's object graph, parsed whole, outlived a small
 * young generation. Streamed, the socket's chunks (at most 64 KB) die as soon as they are scanned, and each item's
 * text and objects are garbage before the next item is read.
 */
import type { IncomingMessage } from 'node:http';
import { JSONListScanner } from '../json-list.js';

/** The list without its items: `metadata.resourceVersion` and `metadata.continue` are what the reflector reads. */
export type ListEnvelope = Record<string, unknown> & { metadata?: { resourceVersion?: unknown; continue?: unknown } };

/** A page that is not a well-formed List. `body` is its text when it was small enough to keep (for the error). */
export class BadListPage extends Error {
  constructor(
    message: string,
    readonly body: string | null,
  ) {
    super(message);
  }
}

/**
 * A body the scanner gives up on is parsed whole when it is at most this big (a `Status` sent with 200 by a proxy,
 * a list with `items` spelled with escapes, an error page), so such bodies are judged exactly as JSON.parse judges
 * them. Real lists always stream.
 */
export const WHOLE_BODY_LIMIT = 64 * 1024;

/**
 * Reads a 2xx list response to its end, calling `onItem` with each parsed item in order, and resolves with the
 * envelope. `onItem` may throw; the response is then destroyed and the promise rejects with that error.
 * @throws BadListPage when an item or the page does not parse, or the page is not a List with an `items` array
 *   (`null` included: an empty cluster is `[]`, and taking anything else for one would delete everything).
 * @throws the response's error when the connection fails or is closed before the end of the body.
 */
export function readListPage(res: IncomingMessage, onItem: (item: unknown) => void): Promise<ListEnvelope> {
  return new Promise<ListEnvelope>((resolve, reject) => {
    let settled = false;
    let items = 0;
    // The body's first bytes while they may still be parsed whole; null once it is bigger than that.
    let head: Buffer[] | null = [];
    let headBytes = 0;
    let scanning = true;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      res.destroy();
      reject(err);
    };
    const scanner = new JSONListScanner((text) => {
      let item: unknown;
      try {
        item = JSON.parse(text);
      } catch {
        throw new BadListPage('an item of the list does not parse', null);
      }
      items++;
      onItem(item);
      return true;
    });
    res.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (head) {
        headBytes += chunk.length;
        if (headBytes <= WHOLE_BODY_LIMIT) head.push(chunk);
        else head = null;
      }
      try {
        if (scanning && !scanner.push(chunk)) scanning = false;
      } catch (err) {
        return fail(err as Error);
      }
      // Given up with items already delivered, or too big to parse whole: nothing more can be made of it.
      if (!scanning && (items > 0 || !head)) fail(new BadListPage('the list does not parse', null));
    });
    res.on('end', () => {
      if (settled) return;
      const envelope = scanning ? scanner.end() : null;
      if (envelope) {
        settled = true;
        resolve(envelope as ListEnvelope);
        return;
      }
      if (items > 0 || !head) return fail(new BadListPage('the list does not parse', null));
      try {
        resolve(wholeBody(Buffer.concat(head).toString('utf8'), onItem));
        settled = true;
      } catch (err) {
        fail(err as Error);
      }
    });
    res.on('error', fail);
    res.on('aborted', () => fail(new Error('response aborted')));
    res.on('close', () => {
      if (!res.complete) fail(new Error('response aborted'));
    });
  });
}

// A small body the scanner did not take, parsed as the whole-page reader used to.
function wholeBody(text: string, onItem: (item: unknown) => void): ListEnvelope {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new BadListPage('the list does not parse', text);
  }
  const items = (v as { items?: unknown } | null)?.items;
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Array.isArray(items)) throw new BadListPage('a list without items', text);
  for (const item of items) onItem(item);
  return { ...(v as ListEnvelope), items: [] };
}
