/** The messages between the primary worker (lib/workers/pool.ts) and a secondary (lib/workers/secondary.ts). */
import type { LoadedConfig, ReloadOutcome } from '../main.js';
import type { MetricsJson, PeerVerdict } from '../util/worker-peers.js';

/** [portKey, bound port] pairs: a PortMap that crosses threads. */
export type PortList = Array<[string, number]>;

/** What a secondary starts with. */
export interface SecondaryData {
  /** 1.. (the primary is 0); logged as `worker` on every line. */
  index: number;
  loaded: LoadedConfig;
  /** `-dns.port`. */
  port: number;
  /** The primary's ports when already known (a restart), else they follow in a `ports` message. */
  ports?: PortList;
}

/** Primary → secondary. Requests carry an id that the reply repeats. */
export type ToSecondary =
  | { type: 'ports'; ports: PortList }
  | { type: 'reload'; id: number; loaded: LoadedConfig; ports: PortList }
  | { type: 'stop'; id: number }
  | { type: 'metrics'; id: number }
  | { type: 'ready'; id: number; continuously: boolean };

/** Secondary → primary. */
export type FromSecondary =
  | { type: 'started' }
  | { type: 'failed'; message: string }
  | { type: 'reply'; id: number; value: ReloadOutcome | MetricsJson | PeerVerdict | null }
  /** A plugin found that the process must stop (loop detected): the primary ends the process with `code`. */
  | { type: 'exit'; code: number };
