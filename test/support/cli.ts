/** The built command line (dist/bin/clusterdns.js) run as a child process, for end-to-end tests. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './e2e-cluster.js';

// CLUSTERDNS_CLI lets a developer point the tests at another build while dist/ is being rebuilt by others.
export const CLI = process.env.CLUSTERDNS_CLI ?? path.join(REPO_ROOT, 'dist', 'bin', 'clusterdns.js');

/** A running clusterdns process with its output so far. */
export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The complete JSON log lines on stdout so far. */
  logs: () => Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** `npm test` builds first (pretest); a bare `npx tap <file>` on a fresh checkout may not have. */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/** Starts clusterdns with `args` (under `o.node`, default this Node.js); the process is tracked so {@link killAll} can clean up after a failed test. */
export function runCli(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; node?: string } = {}): Proc {
  // tap runs tests with NODE_OPTIONS loading its TypeScript and coverage hooks; the built CLI needs none of them
  // (and starts several times faster without).
  const { NODE_OPTIONS: _hooks, ...env } = process.env;
  const child = spawn(o.node ?? process.execPath, [CLI, ...args], { cwd: o.cwd ?? REPO_ROOT, env: { ...env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  // Complete JSON lines only: the last piece may be a line still being written.
  const logs = (): Array<Record<string, unknown>> =>
    out
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, stdout: () => out, stderr: () => err, logs, exited };
}

/** SIGKILLs every process started by {@link runCli} that is still running. */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
}
