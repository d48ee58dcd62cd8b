/**
 * The Corefile reader: lexer, parser (server blocks, directives, imports, snippets, env substitution), server key
 * normalisation and the argument helpers plugin setups share.
 */
export { ConfigError } from './types.js';
export type { Token, Directive, ServerBlock, ZoneAddr } from './types.js';
export { tokenize, isSpace, endLine } from './lexer.js';
export {
  parseCorefile,
  parseCorefileFile,
  substituteEnv,
  MAX_SNIPPET_EXPANSIONS,
  MAX_FILE_EXPANSIONS,
} from './parser.js';
export type { ParseOptions } from './parser.js';
export { parseServerKey, normalizeZone, normalizeZones, isDomainName, SCHEME_PORTS } from './keys.js';
export { argErr, unknownProperty, noBlock, parseDuration, parseIntArg } from './args.js';
export { reverseZonesForCidr } from '../dns/reverse-zones.js';
