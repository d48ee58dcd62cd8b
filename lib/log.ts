/** The root logger. Plugins get children of it through PluginEnv; nothing logs per query except `log`. */
import { pino, type Logger } from 'pino';

export interface LogOptions {
  level?: string;
  /** Where lines go; default stdout. Tests pass a capture stream. */
  stream?: NodeJS.WritableStream;
}

/** Create the root logger: JSON lines, ISO time, no pid/hostname noise. */
export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.CLUSTERDNS_LOG_LEVEL ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.stream ?? pino.destination({ dest: 1, sync: true }),
  );
}
