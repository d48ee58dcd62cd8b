/**
 * Running the real `dig` binary against a test server and reading its text output (BIND 9.18 format): the header
 * status and flags, the OPT pseudosection, and the record sections as `owner ttl TYPE rdata` lines.
 */
import { execFile, execFileSync } from 'node:child_process';

/** Where dig is, or an Error saying how to get it (CI installs bind9-dnsutils; the tests must not skip silently). */
export function requireDig(): string {
  try {
    const out = execFileSync('dig', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim();
  } catch (err) {
    throw new Error(`the dig binary is required for test/e2e/dig.test.ts but could not be run (${(err as Error).message}); install bind9-dnsutils (apt-get install bind9-dnsutils)`);
  }
}

/** Run dig against 127.0.0.1:`port`; resolves with stdout and the exit code (dig exits 9 on no reply). */
export function runDig(port: number, args: string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args], (err, stdout) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ stdout, code });
    });
  });
}

/** What dig printed, parsed. Sections hold `owner ttl TYPE rdata` lines with dig's trailing dots, whitespace collapsed. */
export interface DigOutput {
  status?: string;
  flags: string[];
  counts: Record<string, number>;
  /** `; EDNS: version: 0, flags: do; udp: 1232` → { version: 0, flags: ['do'], udp: 1232 }. */
  edns?: { version: number; flags: string[]; udp: number };
  question: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  /** `;; SERVER: 127.0.0.1#53(127.0.0.1) (UDP)` → 'UDP'. */
  transport?: string;
  /** Comment lines (`;; Truncated, retrying in TCP mode.` and the like). */
  comments: string[];
  /** Non-comment lines, for +short and +noall output. */
  records: string[];
}

/** Parse dig's default or reduced output. */
export function parseDig(stdout: string): DigOutput {
  const out: DigOutput = { flags: [], counts: {}, question: [], answer: [], authority: [], additional: [], comments: [], records: [] };
  type Sec = 'question' | 'answer' | 'authority' | 'additional';
  let sec = null as Sec | null;
  for (const raw of stdout.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') {
      sec = null;
      continue;
    }
    const header = /status: (\w+)/.exec(line);
    if (line.startsWith(';; ->>HEADER<<-') && header) out.status = header[1];
    const flags = /^;; flags:([^;]*);(.*)$/.exec(line);
    if (flags) {
      out.flags = flags[1]!.trim().split(/\s+/).filter(Boolean);
      for (const m of flags[2]!.matchAll(/(\w+): (\d+)/g)) out.counts[m[1]!] = Number(m[2]);
      continue;
    }
    const edns = /^; EDNS: version: (\d+), flags:([^;]*); udp: (\d+)/.exec(line);
    if (edns) {
      out.edns = { version: Number(edns[1]), flags: edns[2]!.trim().split(/\s+/).filter(Boolean), udp: Number(edns[3]) };
      continue;
    }
    const server = /^;; SERVER: .*\((\w+)\)$/.exec(line);
    if (server) out.transport = server[1];
    const section = /^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:$/.exec(line);
    if (section) {
      sec = section[1]!.toLowerCase() as Sec;
      continue;
    }
    if (sec === 'question' && line.startsWith(';')) {
      out.question.push(line.slice(1).split(/\s+/).join(' '));
      continue;
    }
    if (line.startsWith(';')) {
      out.comments.push(line);
      continue;
    }
    const rr = line.split(/\s+/).join(' ');
    // Records outside a titled section: +noall +answer or +short output.
    if (sec === null) out.records.push(rr);
    else out[sec].push(rr);
  }
  return out;
}

/** Drop the class column (`IN`) from `owner ttl IN TYPE rdata` lines, for compact expectations. */
export function noClass(lines: string[]): string[] {
  return lines.map((l) => l.replace(/^(\S+ \d+) IN /, '$1 '));
}
