#!/usr/bin/env node
// Use: node bench/profile-top.mjs FILE.cpuprofile [N=25]
// Prints the N functions with the most self time in a V8 CPU profile as a markdown table (share of all samples and
// of non-idle samples), grouping samples by function name and source location.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const [file, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
let total = 0;
let idle = 0;
for (const node of prof.nodes) {
  const hits = node.hitCount ?? 0;
  if (hits === 0) continue;
  total += hits;
  const cf = node.callFrame;
  if (cf.functionName === '(idle)') idle += hits;
  let where = cf.url || '';
  if (where.startsWith('file://')) where = relative(process.cwd(), fileURLToPath(where));
  const key = `${cf.functionName || '(anonymous)'}\t${where ? `${where}:${cf.lineNumber + 1}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + hits);
}
const busy = total - idle;
const secs = (prof.endTime - prof.startTime) / 1e6;
console.log(`${total} samples over ${secs.toFixed(1)} s; ${((100 * idle) / (total || 1)).toFixed(1)}% idle\n`);
console.log('| self % (all) | self % (non-idle) | function | location |');
console.log('|---:|---:|---|---|');
for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) {
  const [fn, where] = key.split('\t');
  const nonIdle = fn === '(idle)' ? '' : ((100 * hits) / (busy || 1)).toFixed(1);
  console.log(`| ${((100 * hits) / total).toFixed(1)} | ${nonIdle} | \`${fn}\` | ${where} |`);
}
