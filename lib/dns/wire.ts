/**
 * The DNS wire layer: decodeMessage (strict, throws WireError), encodeMessage (compression + CoreDNS-style
 * truncation), and the header-only helpers the server uses before and instead of a full decode/encode.
 */
export { WireError, decodeMessage, readHeader, type Header } from './decode.js';
export { encodeMessage, encodeHeaderOnly } from './encode.js';
