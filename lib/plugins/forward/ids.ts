/** Random 16-bit message IDs for upstream exchanges, and the address text Go puts in network errors. */
import { randomFillSync } from 'node:crypto';

const BATCH = 512;

/** Hands out unpredictable IDs from a batch of random bytes (one crypto call per 512 IDs). */
export class IdSource {
  private readonly pool = new Uint16Array(BATCH);
  private next = BATCH;

  /** A random ID not present in `taken`; gives up on collision avoidance only when `taken` is full. */
  pick(taken: ReadonlyMap<number, unknown>): number {
    for (;;) {
      if (this.next === BATCH) {
        randomFillSync(this.pool);
        this.next = 0;
      }
      const id = this.pool[this.next++]!;
      if (!taken.has(id) || taken.size >= 0x10000) return id;
    }
  }
}

/** `host:port`, with IPv6 in brackets, as Go's net.JoinHostPort prints it. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An exchange that got no usable reply: a network error, a timeout, or a reply that could not be used. */
export class ExchangeError extends Error {
  /** True when a reused TCP connection turned out to be closed by the peer (CoreDNS ErrCachedClosed). */
  readonly cachedClosed: boolean;
  constructor(message: string, cachedClosed = false) {
    super(message);
    this.name = 'ExchangeError';
    this.cachedClosed = cachedClosed;
  }
}
