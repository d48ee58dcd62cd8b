/**
 * A real upstream resolver for end-to-end tests: Debian's `unbound` on 127.0.0.1 at a free port, serving only local
 * data (no root hints, no recursion to the Internet), started in the foreground from a minimal unbound.conf in a
 * temporary folder. CI installs the `unbound` package; without it the tests that need it fail (they do not skip).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, pollUntil, tempDir } from './e2e-cluster.js';
import { parseDig, runDig } from './e2e-dig.js';

/** Where Debian installs the daemon; /usr/sbin is not on every user's PATH. */
const CANDIDATES = ['unbound', '/usr/sbin/unbound', '/usr/local/sbin/unbound'];

/** The unbound binary's path and version, or an Error saying how to get it. */
export function requireUnbound(): { bin: string; version: string } {
  for (const bin of CANDIDATES) {
    if (bin.includes('/') && !existsSync(bin)) continue;
    try {
      const out = execFileSync(bin, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return { bin, version: out.split('\n')[0]!.trim() };
    } catch {
      // try the next place
    }
  }
  throw new Error('the unbound binary is required for test/e2e/kubeadm.test.ts but was not found; install it (apt-get install unbound)');
}

/** What the resolver serves. */
export interface UnboundData {
  /** `local-zone` lines as [zone, type], e.g. ['example.test.', 'static']. */
  zones: Array<[string, string]>;
  /** `local-data` records in zone-file syntax, e.g. `www.example.test. 300 IN A 192.0.2.10`. */
  records: string[];
  /** `local-data-ptr` lines as [ip, name]. */
  ptrs?: Array<[string, string]>;
}

/** A running unbound. */
export interface Unbound {
  port: number;
  /** Its temporary folder (config file, nothing else). */
  dir: string;
  /** What it printed so far (log and errors). */
  output(): string;
  /** Stop it (SIGTERM, SIGKILL after 2 s) and remove the folder. */
  stop(): Promise<void>;
}

/** unbound.conf quoting: double quotes, so record text must not hold any (use single quotes for TXT strings). */
function quote(s: string): string {
  if (s.includes('"')) throw new Error(`unbound.conf value may not contain a double quote: ${s}`);
  return `"${s}"`;
}

/** The minimal configuration: foreground, no privilege drop, no chroot, no pid file, log to stderr, loopback only. */
export function unboundConf(port: number, dir: string, data: UnboundData): string {
  const lines = [
    'server:',
    '    interface: 127.0.0.1',
    `    port: ${port}`,
    '    do-daemonize: no',
    '    username: ""',
    '    chroot: ""',
    '    pidfile: ""',
    '    use-syslog: no',
    '    logfile: ""',
    `    directory: ${quote(dir)}`,
    '    verbosity: 1',
    '    num-threads: 1',
    '    do-ip6: no',
    // Only local data: no validator (no trust anchor to read), no DNSSEC.
    '    module-config: "iterator"',
    '    access-control: 127.0.0.0/8 allow',
    '    do-not-query-localhost: no',
    ...data.zones.map(([zone, type]) => `    local-zone: ${quote(zone)} ${type}`),
    // TXT strings are written with single quotes by callers; unbound reads `'...'` as a quoted value too.
    ...data.records.map((r) => (r.includes('"') ? `    local-data: '${r}'` : `    local-data: ${quote(r)}`)),
    ...(data.ptrs ?? []).map(([ip, name]) => `    local-data-ptr: ${quote(`${ip} ${name}`)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Start one attempt on `port`; resolves with the process once dig gets an answer, or rejects. */
async function attempt(bin: string, port: number, dir: string, probe: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(bin, ['-d', '-c', path.join(dir, 'unbound.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  // Ask with dig (the brief's check) until unbound answers NOERROR for the probe name, or it died.
  const up = await pollUntil(async () => {
    if (child.exitCode !== null) return true;
    const r = await runDig(port, ['+time=1', probe]);
    return r.code === 0 && parseDig(r.stdout).status === 'NOERROR';
  }, 5000, 50);
  if (!up.ok || child.exitCode !== null) {
    child.kill('SIGKILL');
    throw new Error(`unbound did not start on 127.0.0.1:${port} (exit ${child.exitCode}):\n${out}`);
  }
  return { child, output: () => out };
}

/**
 * Start unbound serving `data` on a free 127.0.0.1 port and wait until dig gets a NOERROR answer for `probe`
 * (a name with data). A port taken between choosing and binding is retried on another port.
 */
export async function startUnbound(data: UnboundData, probe: string): Promise<Unbound> {
  const { bin } = requireUnbound();
  const { dir, cleanup } = tempDir('unbound');
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    writeFileSync(path.join(dir, 'unbound.conf'), unboundConf(port, dir, data));
    try {
      const { child, output } = await attempt(bin, port, dir, probe);
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      return {
        port,
        dir,
        output,
        stop: async () => {
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 2000);
            await exited;
            clearTimeout(t);
          }
          cleanup();
        },
      };
    } catch (err) {
      last = err;
    }
  }
  cleanup();
  throw last;
}
