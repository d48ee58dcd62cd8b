/** End-to-end helpers: start a real server from Corefile text on a free port, and capture its log lines. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { start, type Instance } from '../../lib/main.js';

export interface Started {
  inst: Instance;
  port: number;
  /** Parsed JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Start clusterdns from `corefile` (use `:0` ports; `{$VAR}` from `env`). `file` is where the Corefile "lives" for relative paths. */
export async function startServer(corefile: string, opts: { file?: string; env?: NodeJS.ProcessEnv; level?: string; exit?: (code: number) => void } = {}): Promise<Started> {
  const logs: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: opts.level ?? 'info', base: undefined }, stream);
  const inst = await start({ text: corefile, file: opts.file ?? 'Corefile', log, env: opts.env ?? {}, exit: opts.exit ?? ((code) => {
    throw new Error(`server asked to exit with ${code}`);
  }) });
  return { inst, port: inst.addresses[0]!.port, logs, stop: () => inst.stop() };
}
