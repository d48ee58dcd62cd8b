// Every Corefile a reader can copy from the docs must parse and plan: Corefile.example, the demo Corefile, and
// each ```corefile / ~~~ corefile block of every plugin README.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { planServers } from '../../lib/server/plan.js';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');

function examples(md: string): string[] {
  const out: string[] = [];
  const re = /(?:```|~~~)\s*corefile\n([\s\S]*?)(?:```|~~~)/g;
  for (let m = re.exec(md); m; m = re.exec(md)) out.push(m[1]!);
  return out;
}

t.test('Corefile.example and the demo Corefile plan cleanly', async (t) => {
  for (const f of ['Corefile.example', 'fixtures/demo/Corefile']) {
    const blocks = parseCorefile(readFileSync(path.join(root, f), 'utf8'), f, {});
    const plan = planServers(blocks, 53);
    t.ok(plan.listeners.length > 0, `${f} has listeners`);
    t.ok(plan.blocks[0]!.plugins.some((p) => p.def.name === 'kubernetes'), `${f} serves the cluster`);
  }
});

t.test('every plugin README example plans cleanly', async (t) => {
  const dir = path.join(root, 'lib/plugins');
  let n = 0;
  for (const plugin of readdirSync(dir)) {
    const readme = path.join(dir, plugin, 'README.md');
    if (!existsSync(readme)) continue;
    for (const [i, ex] of examples(readFileSync(readme, 'utf8')).entries()) {
      n++;
      t.doesNotThrow(() => planServers(parseCorefile(ex, `${plugin}/README.md#${i}`, {}), 53), `${plugin} example ${i}`);
    }
  }
  t.ok(n >= 5, `${n} examples checked`);
});

t.test('every shipped plugin has a README with the CoreDNS sections', async (t) => {
  const dir = path.join(root, 'lib/plugins');
  for (const plugin of readdirSync(dir)) {
    if (!existsSync(path.join(dir, plugin, 'index.ts'))) continue;
    const md = readFileSync(path.join(dir, plugin, 'README.md'), 'utf8');
    for (const section of ['## Name', '## Description', '## Syntax', '## Examples', '## Compatibility']) t.match(md, section, `${plugin}: ${section}`);
  }
});
