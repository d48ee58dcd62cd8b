#!/usr/bin/env node
/**
 * clusterdns command line, compatible with the `coredns` binary's flags: -conf, -dns.port (-p), -version,
 * -plugins, -quiet, -pidfile; plus -workers (CoreDNS uses every core without a flag; a Node.js process needs worker
 * threads for that). Go-style flags: `-flag value`, `-flag=value`, and `--flag` alike.
 */
// First, before the other modules load: keeps V8's young generation small (lib/kube/gc.ts).
import '../lib/kube/small-young-generation.js';
import { writeFileSync, rmSync } from 'node:fs';
import { ConfigError } from '../lib/corefile/types.js';
import { createLogger } from '../lib/log.js';
import { start, DEFAULT_PORT } from '../lib/main.js';
import { PLUGINS } from '../lib/plugins/index.js';
import { versionLines } from '../lib/version.js';
import { chooseWorkers, startWorkers, type Serving, type WorkersFlag } from '../lib/workers/index.js';

interface Flags {
  conf?: string;
  port?: number;
  version: boolean;
  plugins: boolean;
  quiet: boolean;
  pidfile?: string;
  workers?: WorkersFlag;
}

/** Upper bound for -workers: each worker holds a copy of the cluster. */
const MAX_WORKERS = 256;

const USAGE = `Usage of clusterdns:
  -conf string        Corefile to load (default "Corefile")
  -dns.port string    Default port (default "53"); also -p
  -pidfile string     File path to write pid file
  -plugins            List installed plugins
  -quiet              Quiet mode (no initialization output)
  -version            Show version
  -workers string     Workers serving DNS, each a thread on its own core: a number, or auto (default "auto": the
                      cgroup's CPU quota, 1 without one); more than 1 needs Node.js 22.12 or newer`;

/** Parse argv the way Go's flag package does. Throws with a message for unknown or malformed flags. */
export function parseFlags(argv: string[]): Flags {
  const f: Flags = { version: false, plugins: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') throw new Error(`unexpected argument: ${arg}`);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: -${name}`);
      return v;
    };
    const bool = (): boolean => inline === undefined || inline === 'true' || inline === '1';
    switch (name) {
      case 'conf': f.conf = value(); break;
      case 'dns.port':
      case 'p': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new Error(`invalid port: ${v}`);
        f.port = n;
        break;
      }
      case 'version': f.version = bool(); break;
      case 'plugins': f.plugins = bool(); break;
      case 'quiet': f.quiet = bool(); break;
      case 'pidfile': f.pidfile = value(); break;
      case 'workers': {
        const v = value();
        if (v === 'auto') f.workers = 'auto';
        else if (/^\d+$/.test(v) && Number(v) <= MAX_WORKERS) f.workers = Number(v);
        else throw new Error(`invalid workers: ${v} (a number up to ${MAX_WORKERS}, or auto)`);
        break;
      }
      case 'h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default:
        throw new Error(`flag provided but not defined: -${name}`);
    }
  }
  return f;
}

async function main(): Promise<void> {
  let flags: Flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (flags.version) {
    process.stdout.write(`${versionLines().join('\n')}\n`);
    return;
  }
  if (flags.plugins) {
    const names = [...PLUGINS.keys()].sort().map((n) => `  dns.${n}`);
    process.stdout.write(`Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n${names.join('\n')}\n`);
    return;
  }
  const log = createLogger();
  let inst: Serving;
  try {
    const choice = await chooseWorkers(flags.workers, log);
    const opts = { conf: flags.conf, port: flags.port ?? DEFAULT_PORT, log };
    inst = choice.count > 1 ? await startWorkers(opts, choice) : await start(opts);
  } catch (err) {
    // Configuration and bind errors: one clear line, exit 1 (CoreDNS prints the error and exits 1 too).
    const msg = err instanceof ConfigError ? err.message : `${(err as Error).message ?? String(err)}`;
    process.stderr.write(`${msg}\n`);
    process.exit(1);
  }
  if (flags.pidfile) writeFileSync(flags.pidfile, `${process.pid}\n`);
  if (!flags.quiet) {
    process.stdout.write(`${[...inst.keys, ...versionLines()].join('\n')}\n`);
  }
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    await inst.stop();
    if (flags.pidfile) rmSync(flags.pidfile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // SIGUSR1: re-read the Corefile now (CoreDNS/caddy semantics); a broken one keeps the running config.
  process.on('SIGUSR1', () => void inst.reload());
  // SIGQUIT: immediate stop, no shutdown hooks (CoreDNS/caddy semantics).
  process.on('SIGQUIT', () => process.exit(0));
}

void main();
