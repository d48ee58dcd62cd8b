/** Corefile → plan → server → listening: what the CLI and the end-to-end tests start. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { parseCorefile, parseCorefileFile } from './corefile/parser.js';
import type { ServerBlock } from './corefile/types.js';
import { createLogger } from './log.js';
import { planServers } from './server/plan.js';
import { DnsServer, type BoundAddress } from './server/server.js';

/** CoreDNS's default port and its configuration when no Corefile exists: `whoami` and `log` on the root. */
export const DEFAULT_PORT = 53;
export const DEFAULT_COREFILE = (port: number): string => `.:${port} {\n    whoami\n    log\n}\n`;

export interface StartOptions {
  /** Path of the Corefile (`-conf`). Without it: `./Corefile` if present, else the default config. */
  conf?: string;
  /** Corefile text instead of a file (tests); `file` names it in errors. */
  text?: string;
  file?: string;
  /** Port for keys that give none (`-dns.port`). */
  port?: number;
  log?: Logger;
  /** Environment for `{$VAR}` substitution. */
  env?: NodeJS.ProcessEnv;
  /** How a fatal plugin error ends the process (default process.exit); tests observe it instead. */
  exit?: (code: number) => void;
}

/** A started instance. */
export interface Instance {
  readonly server: DnsServer;
  readonly addresses: BoundAddress[];
  /** Where the configuration came from (`Corefile`, a path, or `default`). */
  readonly source: string;
  /** The start-up lines CoreDNS prints: `.:53`, `cluster.local.:53`, `.:1053 on 127.0.0.1`. */
  readonly keys: string[];
  stop(): Promise<void>;
}

/** Read and parse the configuration the options point at. Throws ConfigError with file and line. */
export function loadBlocks(opts: StartOptions): { blocks: ServerBlock[]; source: string } {
  const port = opts.port ?? DEFAULT_PORT;
  if (opts.text !== undefined) return { blocks: parseCorefile(opts.text, opts.file ?? 'Corefile', opts.env), source: opts.file ?? 'Corefile' };
  if (opts.conf !== undefined) return { blocks: parseCorefileFile(opts.conf, opts.env), source: opts.conf };
  const local = path.resolve('Corefile');
  if (existsSync(local)) return { blocks: parseCorefileFile('Corefile', opts.env), source: 'Corefile' };
  return { blocks: parseCorefile(DEFAULT_COREFILE(port), 'default', opts.env), source: 'default' };
}

/** Load, build and start. Nothing listens unless every block parsed and every plugin built. */
export async function start(opts: StartOptions = {}): Promise<Instance> {
  const log = opts.log ?? createLogger();
  const { blocks, source } = loadBlocks(opts);
  const plan = planServers(blocks, opts.port ?? DEFAULT_PORT);
  const server = new DnsServer(plan, log, opts.exit);
  let addresses: BoundAddress[];
  try {
    addresses = await server.start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  // CoreDNS onstartup.go startUpZones: per listener, its zones sorted, `zone:port`, plus ` on <ip>` when bound.
  const keys = plan.listeners.flatMap((l, i) =>
    [...l.zones.keys()].sort().map((zone) => `${zone}:${addresses[i]!.port}${l.host ? ` on ${l.host}` : ''}`),
  );
  return { server, addresses, source, keys, stop: () => server.stop() };
}
