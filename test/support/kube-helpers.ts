/**
 * Test helpers for lib/kube: a pino logger whose output is captured as parsed JSON lines, polling with a deadline,
 * and builders for raw API objects.
 */
import { pino, type Logger } from 'pino';

/** A captured log line (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger writing into `lines` synchronously. */
export function captureLog(level: pino.Level = 'info'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level, base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

/** Polls `cond` every 10 ms until it returns true; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw v1 Service. */
export function rawService(ns: string, name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, ...meta }, spec };
}

/** A raw discovery.k8s.io/v1 EndpointSlice for `service`. */
export function rawSlice(
  ns: string,
  name: string,
  service: string,
  body: Record<string, unknown>,
  meta: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service }, ...meta },
    addressType: 'IPv4',
    ...body,
  };
}
