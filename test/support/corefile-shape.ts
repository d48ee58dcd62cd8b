/** Turns parsed Corefile structures into plain text shapes that tests can compare with t.same. */
import type { Directive, ServerBlock, Token } from '../../lib/corefile/types.js';

/** A directive as text: `'name arg arg'`, or `['name arg', [...block lines]]` when it has a block. */
export type DirectiveShape = string | [string, DirectiveShape[]];

/** One directive as a DirectiveShape (texts only; use `where` for file/line). */
export function directiveShape(d: Directive): DirectiveShape {
  const line = [d.name.text, ...d.args.map((a) => a.text)].join(' ');
  return d.block === null ? line : [line, d.block.map(directiveShape)];
}

/** Server blocks as `{ keys, directives }` of plain strings. */
export function blocksShape(blocks: ServerBlock[]): { keys: string[]; directives: DirectiveShape[] }[] {
  return blocks.map((b) => ({ keys: b.keys.map((k) => k.text), directives: b.directives.map(directiveShape) }));
}

/** `file:line` of a token. */
export function where(tok: Token): string {
  return `${tok.file}:${tok.line}`;
}
