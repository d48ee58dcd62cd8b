/** Corefile syntax of `loop`: no arguments, no block. */
import { argErr, noBlock } from '../../corefile/args.js';
import type { Directive } from '../../corefile/types.js';

export type LoopConfig = Record<string, never>;

/** `loop` takes nothing. */
export function parse(d: Directive): LoopConfig {
  if (d.args.length > 0) throw argErr(d, 'loop');
  noBlock(d, 'loop');
  return {};
}
