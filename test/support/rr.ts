/**
 * Test helpers for records: write expected answers as zone-file lines (as CoreDNS tests do with `test.A("…")`) and
 * compare sections order-insensitively, as CoreDNS test.SortAndCheck does.
 */
import type { RR } from '../../lib/dns/message.js';
import { parseRRText, rrToText } from '../../lib/dns/text.js';

/** Records from zone-file lines. */
export function rrs(...lines: string[]): RR[] {
  return lines.map(parseRRText);
}

/**
 * A section as sorted, normalised zone-file lines (tabs between fields), for t.same/t.strictSame against the
 * lines returned by `expectLines`. Owner names and name rdata are compared as written (case-sensitive).
 */
export function sectionLines(section: RR[]): string[] {
  return section.map(rrToText).sort();
}

/** Expected zone-file lines normalised through the parser, sorted, to compare with sectionLines. */
export function expectLines(...lines: string[]): string[] {
  return lines.map((l) => rrToText(parseRRText(l))).sort();
}
