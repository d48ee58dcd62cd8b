/**
 * Serving with several workers: the main thread is worker 0 (the primary: HTTP plugins, signals, reloads, the
 * pid) and worker threads 1..N-1 (secondaries) each run the same configuration with their own plugins and cluster
 * zone; all of them bind every DNS address with SO_REUSEPORT and the kernel spreads clients over them.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { DEFAULT_PORT, loadBlocks, start, type Instance, type ReloadOutcome, type StartOptions } from '../main.js';
import { planServers } from '../server/plan.js';
import { autoWorkers, cpuQuota, CGROUP_ROOT } from './cgroup.js';
import { WorkerPool } from './pool.js';
import { reusePortUnsupported } from './reuse-port.js';

/** `-workers`: a count, or 'auto' (also written 0). */
export type WorkersFlag = number | 'auto';

/** How many workers to run and why (for the log). */
export interface WorkerChoice {
  count: number;
  why: string;
}

/**
 * The worker count for `flag`: the number given, or for 'auto' the cgroup's CPU quota (1 without one). More than
 * one needs SO_REUSEPORT; a runtime without it serves with one worker and says so once.
 */
export async function chooseWorkers(flag: WorkersFlag | undefined, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<WorkerChoice> {
  let wanted: number;
  let why: string;
  if (flag === undefined || flag === 'auto' || flag === 0) {
    const quota = cpuQuota({ root: env.CLUSTERDNS_CGROUP_ROOT || CGROUP_ROOT });
    wanted = autoWorkers(quota, availableParallelism());
    why = quota === undefined ? 'no CPU quota' : `CPU quota ${Number(quota.toFixed(3))}`;
  } else {
    wanted = flag;
    why = `-workers ${flag}`;
  }
  if (wanted <= 1) return { count: 1, why };
  const unsupported = await reusePortUnsupported();
  if (unsupported !== undefined) {
    log.warn(`${wanted} workers asked for (${why}), but ${unsupported}: serving with 1 worker`);
    return { count: 1, why };
  }
  return { count: wanted, why };
}

/** What the command line drives: one instance, or the primary with its secondaries. */
export type Serving = Pick<Instance, 'keys' | 'reload' | 'stop'>;

/**
 * Start `choice.count` workers. The configuration is read and checked once, here, and handed to every worker, so
 * they all run the same one; the start fails (every worker stopped) if any worker fails to build or bind.
 */
export async function startWorkers(opts: StartOptions & { log: Logger }, choice: WorkerChoice): Promise<Serving> {
  const log = opts.log;
  const loaded = loadBlocks(opts);
  // Configuration errors surface before any thread starts.
  planServers(loaded.blocks, opts.port ?? DEFAULT_PORT);
  const pool = new WorkerPool({ secondaries: choice.count - 1, loaded, port: opts.port ?? DEFAULT_PORT, log, exit: opts.exit });
  // The secondaries build and sync alongside the primary; they bind once the primary has (its ports are theirs).
  const secondaries = pool.start();
  secondaries.catch(() => undefined);
  let primary: Instance;
  try {
    primary = await start({ ...opts, log: log.child({ worker: 0 }), loaded, reusePort: true, followers: pool });
  } catch (err) {
    await pool.stop();
    throw err;
  }
  pool.bound(primary.addresses);
  try {
    await secondaries;
  } catch (err) {
    await Promise.all([primary.stop(), pool.stop()]);
    throw err;
  }
  log.info(`serving with ${choice.count} workers (${choice.why}), each address shared with SO_REUSEPORT`);
  return {
    get keys() {
      return primary.keys;
    },
    reload: (next?: string): Promise<ReloadOutcome> => primary.reload(next),
    // Together, so every worker's lameduck runs at the same time.
    stop: async () => {
      await Promise.all([primary.stop(), pool.stop()]);
    },
  };
}
