/** Corefile syntax of `whoami`: no arguments, no block. */
import type { Directive } from '../../corefile/types.js';
import { argErr, noBlock } from '../../corefile/args.js';

export type WhoamiConfig = Record<string, never>;

/** `whoami` takes nothing. */
export function parse(d: Directive): WhoamiConfig {
  if (d.args.length > 0) throw argErr(d, 'whoami');
  noBlock(d, 'whoami');
  return {};
}
