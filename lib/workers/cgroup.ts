/**
 * The CPU quota of the process's cgroup, for the default number of workers: cgroup v2 `cpu.max`, or v1
 * `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the tightest along the path from the process's cgroup up to the mount
 * (a parent's limit binds its children too). Go 1.25 derives GOMAXPROCS from the same files.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Where the cgroup hierarchy is mounted. `CLUSTERDNS_CGROUP_ROOT` replaces it (tests fake a hierarchy there). */
export const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CgroupSource {
  /** The mount point of the hierarchy (default {@link CGROUP_ROOT}). */
  root?: string;
  /**
   * The text of /proc/self/cgroup. Read from /proc when the root is the real one; with another root the process
   * is taken to sit at that root, as inside a container with its own cgroup namespace.
   */
  self?: string;
}

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The directories from the process's cgroup up to the root, the process's own first. */
function lineage(root: string, rel: string): string[] {
  const dirs: string[] = [];
  let dir = path.join(root, rel);
  // A path that does not exist under the mount (a cgroup v1 container sees the host's path in /proc/self/cgroup
  // while its own cgroup is mounted at the root) means the root is the process's cgroup.
  if (!existsSync(dir)) dir = root;
  for (;;) {
    dirs.push(dir);
    if (path.relative(root, dir) === '') return dirs;
    dir = path.dirname(dir);
  }
}

/** The cgroup path of the process for `controller` ('' = the v2 unified line). */
function selfPath(self: string | undefined, controller: string): string {
  for (const line of (self ?? '').split('\n')) {
    const [, controllers, rel] = line.split(':', 3) as [string, string?, string?];
    if (rel === undefined) continue;
    if (controller === '' ? controllers === '' : controllers!.split(',').includes(controller)) return rel;
  }
  return '/';
}

/** CPUs allowed by one v2 `cpu.max` ("max 100000" or "QUOTA PERIOD"), undefined when unlimited or unreadable. */
export function parseCpuMax(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').split(/\s+/);
  const q = Number(quota);
  const p = Number(period ?? 100000);
  return quota !== 'max' && q > 0 && p > 0 ? q / p : undefined;
}

/** CPUs allowed by v1 quota and period files (quota -1: unlimited). */
function v1Quota(dir: string): number | undefined {
  const q = Number(read(path.join(dir, 'cpu.cfs_quota_us')));
  const p = Number(read(path.join(dir, 'cpu.cfs_period_us')));
  return q > 0 && p > 0 ? q / p : undefined;
}

/** The tightest limit along `dirs`. */
function tightest(dirs: string[], limit: (dir: string) => number | undefined): number | undefined {
  let min: number | undefined;
  for (const d of dirs) {
    const v = limit(d);
    if (v !== undefined && (min === undefined || v < min)) min = v;
  }
  return min;
}

/** CPUs the cgroup quota allows (fractional, e.g. 1.5), or undefined when there is no quota or no cgroup to read. */
export function cpuQuota(src: CgroupSource = {}): number | undefined {
  const root = src.root ?? CGROUP_ROOT;
  const self = src.self ?? (root === CGROUP_ROOT ? read('/proc/self/cgroup') : undefined);
  if (existsSync(path.join(root, 'cgroup.controllers'))) {
    return tightest(lineage(root, selfPath(self, '')), (d) => parseCpuMax(read(path.join(d, 'cpu.max'))));
  }
  for (const mount of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
    const dir = path.join(root, mount);
    if (existsSync(path.join(dir, 'cpu.cfs_quota_us'))) return tightest(lineage(dir, selfPath(self, 'cpu')), v1Quota);
  }
  return undefined;
}

/**
 * Workers for `-workers auto`: the quota rounded up (a 1.5-CPU quota can keep two event loops busy), capped by the
 * CPUs the process may run on; 1 without a quota. Unlike Go's threads, every worker holds its own copy of the
 * cluster and its own API watches, so a pod without a CPU limit on a 64-core node must not start 64 of them.
 */
export function autoWorkers(quota: number | undefined, available: number): number {
  if (quota === undefined) return 1;
  return Math.max(1, Math.min(Math.ceil(quota - 1e-9), available));
}
