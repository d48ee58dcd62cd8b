// The CPU quota behind `-workers auto` (lib/workers/cgroup.ts), read from fake cgroup v2 and v1 hierarchies.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { autoWorkers, cpuQuota, parseCpuMax } from '../../lib/workers/cgroup.js';
import { tempDir } from '../support/e2e-cluster.js';

const { dir: TMP, cleanup } = tempDir('cgroup');
t.teardown(cleanup);

/** A fake hierarchy: `files` maps paths under the root to contents. */
function tree(name: string, files: Record<string, string>): string {
  const root = path.join(TMP, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), `${text}\n`);
  }
  return root;
}

t.test('cpu.max lines', async (t) => {
  const cases: Array<[string | undefined, number | undefined]> = [
    ['max 100000', undefined],
    ['200000 100000', 2],
    ['150000 100000', 1.5],
    ['50000 100000', 0.5],
    ['100000', 1],
    ['', undefined],
    [undefined, undefined],
    ['0 100000', undefined],
  ];
  for (const [text, want] of cases) t.equal(parseCpuMax(text), want, `Test ${JSON.stringify(text)}: expected ${want}`);
});

t.test('cgroup v2: the process cgroup and the tightest limit above it', async (t) => {
  const root = tree('v2', {
    'cgroup.controllers': 'cpu memory',
    'cpu.max': 'max 100000',
    'kubepods/cpu.max': '400000 100000',
    'kubepods/pod1/cpu.max': 'max 100000',
    'kubepods/pod1/c1/cpu.max': '250000 100000',
    'kubepods/pod1/c2/cpu.max': 'max 100000',
  });
  t.equal(cpuQuota({ root, self: '0::/kubepods/pod1/c1\n' }), 2.5, 'the container limit');
  t.equal(cpuQuota({ root, self: '0::/kubepods/pod1/c2\n' }), 4, 'a parent limit binds an unlimited child');
  t.equal(cpuQuota({ root, self: '0::/\n' }), undefined, 'no limit at the root');
  t.equal(cpuQuota({ root, self: '0::/elsewhere/not-mounted\n' }), undefined, 'a path missing under the mount: the root is the process cgroup');
  const ns = tree('v2-namespaced', { 'cgroup.controllers': 'cpu', 'cpu.max': '300000 100000' });
  t.equal(cpuQuota({ root: ns }), 3, 'inside a cgroup namespace the mount is the container');
});

t.test('cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us under the cpu controller', async (t) => {
  const limited = tree('v1', {
    'cpu,cpuacct/cpu.cfs_quota_us': '-1',
    'cpu,cpuacct/cpu.cfs_period_us': '100000',
    'cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '150000',
    'cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000',
  });
  t.equal(cpuQuota({ root: limited, self: '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n' }), 1.5);
  t.equal(cpuQuota({ root: limited, self: '3:cpu,cpuacct:/\n' }), undefined, 'quota -1 is no limit');
  const plain = tree('v1-cpu', { 'cpu/cpu.cfs_quota_us': '200000', 'cpu/cpu.cfs_period_us': '100000', 'unified/cgroup.controllers': '' });
  t.equal(cpuQuota({ root: plain }), 2, 'a hybrid host (v2 only under unified/) reads v1');
  t.equal(cpuQuota({ root: path.join(TMP, 'nothing-here') }), undefined, 'no hierarchy at all');
});

t.test('auto workers: the quota rounded up, capped by the CPUs available, 1 without a quota', async (t) => {
  const cases: Array<[number | undefined, number, number]> = [
    [undefined, 64, 1],
    [0.1, 8, 1],
    [1, 8, 1],
    [1.5, 8, 2],
    [2, 8, 2],
    [4, 2, 2],
    [16, 64, 16],
  ];
  for (const [quota, available, want] of cases) t.equal(autoWorkers(quota, available), want, `Test quota ${quota}, ${available} CPUs: expected ${want}`);
});
