import t, { type Test } from 'tap';
import { join, relative } from 'node:path';
import { parseCorefile, parseCorefileFile, substituteEnv } from '../../lib/corefile/parser.js';
import { ConfigError } from '../../lib/corefile/types.js';
import { blocksShape, where } from '../support/corefile-shape.js';
import { KUBEADM_COREFILE } from '../support/kubeadm.js';

const NO_ENV = {};
const parse = (src: string, env: NodeJS.ProcessEnv = NO_ENV) => blocksShape(parseCorefile(src, 'Corefile', env));

/** Asserts that `fn` throws a ConfigError at `file:line` whose problem contains `problem`. */
function throwsAt(t: Test, fn: () => unknown, file: string, line: number, problem: string, name?: string): void {
  try {
    fn();
    t.fail(`${name ?? problem}: expected a ConfigError`);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    t.equal(`${e.file}:${e.line}`, `${file}:${line}`, `${name ?? problem} (place)`);
    t.match(e.problem, problem, `${name ?? problem} (problem)`);
  }
}

t.test('the kubeadm default Corefile', async (t) => {
  const src = KUBEADM_COREFILE;
  const blocks = parseCorefile(src, 'Corefile', NO_ENV);
  t.same(blocksShape(blocks), [
    {
      keys: ['.:53'],
      directives: [
        'errors',
        ['health', ['lameduck 5s']],
        'ready',
        ['kubernetes cluster.local in-addr.arpa ip6.arpa', ['pods insecure', 'fallthrough in-addr.arpa ip6.arpa', 'ttl 30']],
        'prometheus :9153',
        ['forward . /etc/resolv.conf', ['max_concurrent 1000']],
        ['cache 30', ['disable success cluster.local', 'disable denial cluster.local']],
        'loop',
        'reload',
        'loadbalance',
      ],
    },
  ]);
  const [block] = blocks;
  t.equal(where(block!.keys[0]!), 'Corefile:1');
  const k8s = block!.directives[3]!;
  t.equal(where(k8s.name), 'Corefile:7');
  t.equal(where(k8s.args[2]!), 'Corefile:7');
  t.equal(where(k8s.block![1]!.name), 'Corefile:9');
  t.equal(where(k8s.block![2]!.args[0]!), 'Corefile:10');
  t.equal(block!.directives[0]!.block, null, 'no block is null');
});

t.test('server block keys and blocks', async (t) => {
  t.same(parse('example.org example.net:1053 {\n  whoami\n}'), [
    { keys: ['example.org', 'example.net:1053'], directives: ['whoami'] },
  ], 'several keys on one line');
  t.same(parse('a.org,\n  b.org, c.org,\n  d.org {\n  log\n}'), [
    { keys: ['a.org', 'b.org', 'c.org', 'd.org'], directives: ['log'] },
  ], 'a trailing comma continues the keys on the next line');
  t.same(parse('a.org, b.org {\n}'), [{ keys: ['a.org', 'b.org'], directives: [] }], 'comma on one line');
  t.same(parse('.:53\n{\n  whoami\n}'), [{ keys: ['.:53'], directives: ['whoami'] }], '{ on the line after the keys');
  t.same(parse('. { whoami\n  log\n}'), [{ keys: ['.'], directives: ['whoami', 'log'] }], 'directive after { on its line');
  t.same(
    parse('example.org {\n  file db\n}\n\n. {\n  forward . 8.8.8.8\n}\n'),
    [
      { keys: ['example.org'], directives: ['file db'] },
      { keys: ['.'], directives: ['forward . 8.8.8.8'] },
    ],
    'several blocks',
  );
  t.same(parse('a {\n}\nb { \n}'), [{ keys: ['a'], directives: [] }, { keys: ['b'], directives: [] }], 'empty blocks');
  t.same(parse('"" . {\n}'), [{ keys: ['.'], directives: [] }], 'an empty quoted key is skipped');
  t.same(parse(''), [], 'empty Corefile');
  t.same(parse('# only a comment\n'), [], 'only comments');
  t.same(parse('.:53'), [{ keys: ['.:53'], directives: [] }], 'only a line of keys');
});

t.test('a single server block may omit braces', async (t) => {
  t.same(parse('.\nwhoami\nlog'), [{ keys: ['.'], directives: ['whoami', 'log'] }]);
  t.same(parse('. :1053\nforward . 1.1.1.1 {\n  max_fails 2\n}\nlog'), [
    { keys: ['.', ':1053'], directives: [['forward . 1.1.1.1', ['max_fails 2']], 'log'] },
  ]);
  // Everything after the keys belongs to the block, so a second "block" is read as a directive (as in CoreDNS,
  // where the server then rejects the unknown directive 'example.org').
  t.same(parse('.\nwhoami\nexample.org {\n  log\n}'), [
    { keys: ['.'], directives: ['whoami', ['example.org', ['log']]] },
  ]);
});

t.test('nested blocks of any depth', async (t) => {
  const src = `. {
  outer a {
    middle b {
      inner c {
        leaf d e
      }
      sibling
    }
    empty {
    }
  }
  health { lameduck 5s }
  template IN A {
    answer "{{ .Name }} 60 IN A 127.0.0.1"
  }
}`;
  t.same(parse(src), [
    {
      keys: ['.'],
      directives: [
        ['outer a', [['middle b', [['inner c', ['leaf d e']], 'sibling']], ['empty', []]]],
        ['health', ['lameduck 5s']],
        ['template IN A', ['answer {{ .Name }} 60 IN A 127.0.0.1']],
      ],
    },
  ]);
});

t.test('environment substitution', async (t) => {
  const env = { ZONE: 'Example.ORG', PORT: '1053', UP: '9.9.9.9', NAME: 'whoami', EMPTY: '' };
  t.same(parse('{$ZONE}:{$PORT} {\n  forward . {$UP} {%UP%}\n  "{$NAME}"\n  log {$MISSING} a{%MISSING%}b\n}', env), [
    { keys: ['Example.ORG:1053'], directives: ['forward . 9.9.9.9 9.9.9.9', 'whoami', 'log  ab'] },
  ]);
  t.same(parse('. {\n  {$NAME} "x {$UP} y"\n}', env), [{ keys: ['.'], directives: ['whoami x 9.9.9.9 y'] }],
    'directive names and quoted args');
  t.same(parse('. {\n  a {\n    b {$PORT}\n  }\n}', env), [{ keys: ['.'], directives: [['a', ['b 1053']]] }],
    'inside nested blocks');
  t.same(parse('{$ZONE}, {$PORT}\nlog', env), [{ keys: ['Example.ORG', '1053'], directives: ['log'] }], 'keys');

  t.equal(substituteEnv('{$A}{$B}-{%A%}', { A: 'x', B: 'y' }), 'xy-x');
  t.equal(substituteEnv('{$}', { A: 'x' }), '{$}', 'an empty name is left alone');
  t.equal(substituteEnv('{$A', { A: 'x' }), '{$A', 'an unclosed reference is left alone');
  t.equal(substituteEnv('{$A}', { A: '{$A}' }), '{$A}', 'a value is not substituted again');
  t.equal(substituteEnv('{$HOME_NOT_SET_X}', {}), '', 'unset is empty');
});

t.test('process.env is the default environment', async (t) => {
  process.env.CLUSTERDNS_TEST_ZONE = 'from.env';
  t.teardown(() => delete process.env.CLUSTERDNS_TEST_ZONE);
  t.same(blocksShape(parseCorefile('{$CLUSTERDNS_TEST_ZONE}\nlog', 'Corefile')), [
    { keys: ['from.env'], directives: ['log'] },
  ]);
});

t.test('file and glob imports', async (t) => {
  const dir = t.testdir({
    'Corefile': 'import conf.d/*.server\n. {\n  import common\n  forward . 1.1.1.1 {\n    import fwd/opts\n  }\n}\n',
    common: 'errors\nlog\n',
    fwd: { opts: 'max_fails 3\n' },
    'conf.d': {
      'b.server': 'b.org {\n  whoami\n}\n',
      'a.server': 'a.org {\n  import ../common\n}\n',
      'c.other': 'never.org {\n}\n',
    },
  });
  const file = join(dir, 'Corefile');
  const blocks = parseCorefileFile(file, NO_ENV);
  t.same(blocksShape(blocks), [
    { keys: ['a.org'], directives: ['errors', 'log'] },
    { keys: ['b.org'], directives: ['whoami'] },
    { keys: ['.'], directives: ['errors', 'log', ['forward . 1.1.1.1', ['max_fails 3']]] },
  ], 'globs expand in name order, paths are relative to the importing file');
  t.equal(where(blocks[0]!.keys[0]!), `${join(dir, 'conf.d', 'a.server')}:1`, 'imported tokens name their file');
  t.equal(where(blocks[0]!.directives[1]!.name), `${join(dir, 'common')}:2`);
  t.equal(where(blocks[2]!.keys[0]!), `${file}:2`);
  t.equal(where(blocks[2]!.directives[2]!.block![0]!.args[0]!), `${join(dir, 'fwd', 'opts')}:1`);
  t.equal(where(blocks[2]!.directives[2]!.name), `${file}:4`, 'lines after an import keep their numbers');
});

t.test('an import glob that matches nothing warns and adds nothing', async (t) => {
  const dir = t.testdir({ 'Corefile': '. {\n  import none/*.conf\n  import x?.conf\n  log\n}\n' });
  const warnings: string[] = [];
  const blocks = parseCorefileFile(join(dir, 'Corefile'), NO_ENV, { warn: (m) => warnings.push(m) });
  t.same(blocksShape(blocks), [{ keys: ['.'], directives: ['log'] }]);
  t.same(warnings, [
    'No files matching import glob pattern: none/*.conf',
    'No files matching import glob pattern: x?.conf',
  ]);
});

t.test('import errors name the file and line', async (t) => {
  const dir = t.testdir({
    'missing': '. {\n  log\n  import nope.conf\n}\n',
    'twostars': '. {\n  import */*.conf\n}\n',
    'isdir': 'import sub\n',
    sub: {},
    'self': '. {\n  import self\n}\n',
    'ping': 'import pong\n',
    'pong': '\n\nimport ping\n',
    'nested': 'import inner\n',
    'inner': '. {\n  import gone\n}\n',
    'noarg': '. {\n  import\n}\n',
    'twoargs': '. {\n  import a b\n}\n',
    'emptyarg': '. {\n  import {$UNSET}\n}\n',
    'bracket': 'import [ab]\n',
  });
  const at = (name: string) => join(dir, name);
  const run = (name: string) => () => parseCorefileFile(at(name), NO_ENV);
  throwsAt(t, run('missing'), at('missing'), 3, 'File to import not found: nope.conf');
  throwsAt(t, run('twostars'), at('twostars'), 2, 'Glob pattern may only contain one wildcard (*), but has others');
  throwsAt(t, run('isdir'), at('isdir'), 1, 'is a directory');
  throwsAt(t, run('self'), at('self'), 2, `maximum file import depth (100000) exceeded: import cycle ${at('self')} -> ${at('self')}`);
  throwsAt(t, run('ping'), at('pong'), 3, `import cycle ${at('ping')} -> ${at('pong')} -> ${at('ping')}`);
  throwsAt(t, run('nested'), at('inner'), 2, 'File to import not found: gone', 'an error inside an imported file');
  throwsAt(t, run('noarg'), at('noarg'), 2, "Wrong argument count or unexpected line ending after 'import'");
  throwsAt(t, run('twoargs'), at('twoargs'), 2, 'Import takes only one argument (glob pattern or file)');
  throwsAt(t, run('emptyarg'), at('emptyarg'), 2, 'Import requires a non-empty filepath');
  throwsAt(t, run('bracket'), at('bracket'), 1, 'Glob pattern may only contain one wildcard');

  // The Corefile's own name, as given, is what errors show (here relative to the working directory).
  const rel = relative(process.cwd(), at('missing'));
  throwsAt(t, () => parseCorefileFile(rel, NO_ENV), rel, 3, 'File to import not found', 'a relative path as given');
  t.throws(() => parseCorefileFile(at('does-not-exist'), NO_ENV), { code: 'ENOENT' }, 'unreadable Corefile');
});

t.test('snippets', async (t) => {
  const src = `(common) {
  errors
  log . {
    class denial
  }
}
(nothing) {
}
example.org {
  import common
  whoami
}
. {
  import nothing
  forward . 1.1.1.1 {
    import common
  }
}
`;
  const blocks = parseCorefile(src, 'Corefile', NO_ENV);
  t.same(blocksShape(blocks), [
    { keys: ['example.org'], directives: ['errors', ['log .', ['class denial']], 'whoami'] },
    { keys: ['.'], directives: [['forward . 1.1.1.1', ['errors', ['log .', ['class denial']]]]] },
  ], 'snippets are not server blocks; import pastes their lines');
  const first = blocks[0]!.directives;
  t.equal(where(first[0]!.name), 'Corefile:2', 'pasted tokens keep their original line');
  t.equal(where(first[1]!.block![0]!.name), 'Corefile:4');
  t.equal(where(first[2]!.name), 'Corefile:11', 'the line after the import is unchanged');
  t.not(blocks[1]!.directives[0]!.block![0], first[0], 'each paste gets its own Directive objects');

  t.same(parse('(keys) {\n  a.org b.org\n}\nimport keys\n{\n  log\n}'), [{ keys: ['a.org', 'b.org'], directives: ['log'] }],
    'a top-level import can supply keys');
  t.same(parse('(s) {\n  {$X}\n}\n. {\n  import s\n}', { X: 'whoami' }), [{ keys: ['.'], directives: ['whoami'] }],
    'env is substituted where the snippet is used');
  t.same(parse('(a) {\n  log\n}\n(b) {\n  import a\n  errors\n}\n. {\n  import b\n}'), [
    { keys: ['.'], directives: ['log', 'errors'] },
  ], 'a snippet may import another');

  const dir = t.testdir({
    'Corefile': 'import snippets.conf\n. {\n  import shared\n}\n',
    'snippets.conf': '(shared) {\n  cache 30\n}\n',
  });
  const fromFile = parseCorefileFile(join(dir, 'Corefile'), NO_ENV);
  t.same(blocksShape(fromFile), [{ keys: ['.'], directives: ['cache 30'] }], 'a snippet defined in an imported file');
  t.equal(where(fromFile[0]!.directives[0]!.name), `${join(dir, 'snippets.conf')}:2`);
});

t.test('snippet errors', async (t) => {
  throwsAt(t, () => parse('(s) {\n  log\n}\n(s) {\n  errors\n}'), 'Corefile', 4, 'redeclaration of previously declared snippet s');
  throwsAt(t, () => parse('(s) {\n  log\n  import s\n}\n. {\n}'), 'Corefile', 3,
    "maximum snippet import depth (10000) exceeded: snippet 's' imports itself");
  throwsAt(t, () => parse('(a) {\n  import b\n}\n(b) {\n  import a\n}\n. {\n  import a\n}'), 'Corefile', 5,
    'import cycle (a) -> (b) -> (a)');
  throwsAt(t, () => parse('(s)\nlog'), 'Corefile', 2, "Syntax error: Unexpected token 'log', expecting '{'");
  throwsAt(t, () => parse('(s) {\n  log\n'), 'Corefile', 2, 'Unexpected EOF');
  const many = (n: number) => `(s) {\n  log\n}\n. {\n${'  import s\n'.repeat(n)}}\n`;
  t.equal(parseCorefile(many(10000), 'Corefile', NO_ENV)[0]!.directives.length, 10000, '10000 snippet imports are fine');
  throwsAt(t, () => parse(many(10001)), 'Corefile', 10005, 'maximum snippet import depth (10000) exceeded',
    'the 10001st snippet import is refused');
  throwsAt(t, () => parse('. {\n  import later\n}\n(later) {\n  log\n}'), 'Corefile', 2, 'File to import not found: later',
    'a snippet must be defined before it is used');
});

t.test('syntax errors name the file and line', async (t) => {
  const cases: { src: string; line: number; problem: string }[] = [
    { src: '}', line: 1, problem: "Unexpected '}' because no matching opening brace" },
    { src: '. {\n  whoami\n}\n}', line: 4, problem: "Unexpected '}' because no matching opening brace" },
    { src: '. {\n  whoami }\n', line: 2, problem: "Unexpected '}' because no matching opening brace" },
    { src: '. {\n  health {\n    lameduck 5s\n  } }\n', line: 4, problem: "Unexpected '}' because no matching opening brace" },
    { src: '.\nwhoami\n}', line: 3, problem: "Unexpected '}' because no matching opening brace" },
    { src: "a }", line: 1, problem: "Unexpected '}' because no matching opening brace" },
    { src: '. {\n  whoami\n', line: 2, problem: 'Unexpected EOF' },
    { src: '. {\n  kubernetes cluster.local {\n    pods insecure\n  }\n', line: 4, problem: 'Unexpected EOF' },
    { src: '. {\n  a {\n    b {\n', line: 3, problem: 'Unexpected EOF' },
    { src: 'a.org,', line: 1, problem: 'Unexpected EOF' },
    { src: '{\n  whoami\n}', line: 1, problem: "Unexpected '{'" },
    { src: '\n\na.org, {\n}', line: 3, problem: "Expected another address but had '{' - check for extra comma" },
    { src: '.:53{\n  whoami\n}', line: 1, problem: "Unexpected token '.:53{'" },
    { src: '. {\n  kubernetes\n  {\n  }\n}', line: 3, problem: "Unexpected '{': a block must open on the same line" },
    { src: '. {\n  a {\n    b\n  } c\n}', line: 4, problem: "Unexpected token 'c' after '}'" },
    { src: '. {\n  a {\n    b { x } y\n  }\n}', line: 3, problem: "Unexpected token 'y' after '}'" },
    { src: '"" {\n}', line: 1, problem: "Unexpected '{'" },
  ];
  for (const c of cases) throwsAt(t, () => parse(c.src), 'Corefile', c.line, c.problem, JSON.stringify(c.src));
});

t.test('ConfigError carries CoreDNS message shape', async (t) => {
  try {
    parseCorefile('. {\n  log\n', '/etc/coredns/Corefile', NO_ENV);
    t.fail('expected an error');
  } catch (e) {
    t.type(e, ConfigError);
    const err = e as ConfigError;
    t.equal(err.message, '/etc/coredns/Corefile:2 - Error during parsing: Unexpected EOF');
    t.equal(err.plugin, undefined);
  }
});
