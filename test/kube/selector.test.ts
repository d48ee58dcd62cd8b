import t from 'tap';
import { matches, parseSelector } from '../../lib/kube/selector.js';

const labels = { app: 'nginx', environment: 'staging', 'app.kubernetes.io/name': 'web', tier: '', replicas: '3' };

// selector, expected match against `labels`
const matchCases: Array<[string, boolean]> = [
  ['', true],
  ['   ', true],
  ['app=nginx', true],
  ['app==nginx', true],
  ['app = nginx', true],
  ['app=apache', false],
  ['missing=x', false],
  ['app!=apache', true],
  ['app!=nginx', false],
  ['missing!=x', true], // != matches an absent key
  ['app', true],
  ['missing', false],
  ['!missing', true],
  ['!app', false],
  ['environment in (staging, qa)', true],
  ['environment in (qa,prod)', false],
  ['environment in(staging)', true],
  ['missing in (x)', false],
  ['environment notin (qa)', true],
  ['environment notin (staging,qa)', false],
  ['missing notin (x)', true], // notin matches an absent key
  ['environment in (staging, qa),app=nginx', true], // the CoreDNS README example
  ['environment in (staging, qa),app=apache', false],
  ['app.kubernetes.io/name=web', true],
  ['tier=', true], // empty value
  ['tier==', true],
  ['app=', false],
  ['tier in (a,)', true], // an empty slot is the empty value
  ['replicas>2', true],
  ['replicas>3', false],
  ['replicas<4', true],
  ['app>1', false], // not an integer label
  ['missing<5', false],
  ['app=nginx, environment=staging, !missing', true],
];

t.test('matches', async (t) => {
  for (const [sel, want] of matchCases) {
    t.equal(matches(parseSelector(sel), labels), want, `${JSON.stringify(sel)} -> ${want}`);
  }
});

t.test('parsed structure', async (t) => {
  const s = parseSelector('a=b, c notin (x, y), !d, e');
  t.equal(s.text, 'a=b, c notin (x, y), !d, e');
  t.same(
    s.requirements.map((r) => [r.key, r.op, [...r.values]]),
    [
      ['a', 'in', ['b']],
      ['c', 'notin', ['x', 'y']],
      ['d', 'notexists', []],
      ['e', 'exists', []],
    ],
  );
});

// selector, substring of the error message
const errorCases: Array<[string, string]> = [
  ['a in (x', "expected ',' or ')' in value list, found end of selector"],
  ['a in x', "expected '(' after 'in'"],
  ['a in ()', "'in' needs at least one value"],
  ['a notin ()', "'notin' needs at least one value"],
  ['a=b,', 'trailing comma'],
  [',a=b', "expected a label key or '!', found ','"],
  ['a b', "expected an operator (=, ==, !=, in, notin, <, >) or ',' after key 'a'"],
  ['a=b c=d', "expected ',' between requirements, found 'c'"],
  ['a=b=c', "expected ',' between requirements, found '='"],
  ['!', "expected a label key after '!', found end of selector"],
  ['!a=b', "expected ',' between requirements, found '='"],
  ['a>b', "expected an integer after '>'"],
  ['a<', "expected an integer after '<'"],
  ['-a=b', 'invalid label key "-a"'],
  ['Example.com/a=b', 'invalid label key "Example.com/a": prefix'],
  ['/a=b', 'invalid label key "/a": prefix'],
  [`${'k'.repeat(64)}=v`, 'invalid label key'],
  [`a=${'v'.repeat(64)}`, 'invalid label value'],
  ['a=b!', "expected ',' between requirements, found '!'"],
  ['a=-b', 'invalid label value "-b"'],
  ['a in (x y)', "expected ',' or ')' in value list, found 'y'"],
  ['(a)', "expected a label key or '!', found '('"],
  ['in=x', "expected a label key or '!', found 'in'"],
];

t.test('errors', async (t) => {
  for (const [sel, want] of errorCases) {
    t.throws(
      () => parseSelector(sel),
      { message: new RegExp(`^invalid label selector ${escape(JSON.stringify(sel))}: .*${escape(want)}`) },
      sel,
    );
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
