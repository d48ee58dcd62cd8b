import t from 'tap';
import { endLine, isSpace, tokenize } from '../../lib/corefile/lexer.js';

/** Tokens as `text@line` strings, so a table row reads like the Corefile it came from. */
const lexed = (src: string): string[] => tokenize(src, 'Corefile').map((k) => `${k.text}@${k.line}`);

t.test('tokens, comments, quotes, escapes and line numbers', async (t) => {
  const cases: { name: string; src: string; want: string[] }[] = [
    { name: 'whitespace separates', src: 'a  b\tc\n\nd', want: ['a@1', 'b@1', 'c@1', 'd@3'] },
    { name: 'empty input', src: '', want: [] },
    { name: 'only white space and comments', src: '  \n # x\n\t#y z\n', want: [] },
    { name: 'comment to end of line', src: 'a # b c\nd', want: ['a@1', 'd@2'] },
    { name: 'comment in the middle of a word', src: 'foo#bar baz\nqux', want: ['foo@1', 'qux@2'] },
    { name: 'comment right after a brace', src: '{#x\n}', want: ['{@1', '}@2'] },
    { name: 'braces are not split from words', src: '.:53{\n}', want: ['.:53{@1', '}@2'] },
    { name: 'quoted token keeps spaces', src: 'a "b c" d', want: ['a@1', 'b c@1', 'd@1'] },
    { name: 'quoted token keeps #', src: '"a # b" c', want: ['a # b@1', 'c@1'] },
    { name: 'escaped quote', src: String.raw`"say \"hi\""`, want: ['say "hi"@1'] },
    { name: 'other backslashes are kept', src: String.raw`"a\nb\\c" x\y`, want: [String.raw`a\nb\\c@1`, String.raw`x\y@1`] },
    { name: 'quote in the middle of a word is literal', src: 'a"b c"', want: ['a"b@1', 'c"@1'] },
    { name: 'text right after a closing quote is a new token', src: '"a"b', want: ['a@1', 'b@1'] },
    { name: 'empty quoted token', src: 'a "" b', want: ['a@1', '@1', 'b@1'] },
    { name: 'multi-line quoted token starts on its first line', src: 'x "a\nb\nc" y\nz', want: ['x@1', 'a\nb\nc@1', 'y@3', 'z@4'] },
    { name: 'unterminated quote runs to EOF', src: 'a "b c\nd', want: ['a@1', 'b c\nd@1'] },
    { name: 'unterminated empty quote yields nothing', src: 'a "', want: ['a@1'] },
    { name: 'CRLF line endings', src: '.:53 {\r\n  whoami\r\n}\r\n', want: ['.:53@1', '{@1', 'whoami@2', '}@3'] },
    { name: 'a lone CR does not split a word', src: 'ab\rcd', want: ['abcd@1'] },
    { name: 'CR inside quotes is kept', src: '"a\r\nb"', want: ['a\r\nb@1'] },
    { name: 'byte order mark dropped', src: '\ufeff. {\n}', want: ['.@1', '{@1', '}@2'] },
    { name: 'NEL and NBSP separate (Go unicode.IsSpace)', src: 'a\u0085b\u00a0c', want: ['a@1', 'b@1', 'c@1'] },
  ];
  for (const c of cases) t.same(lexed(c.src), c.want, c.name);
});

t.test('tokens carry the file name', async (t) => {
  const toks = tokenize('a\nb', '/etc/coredns/Corefile');
  t.same(toks, [
    { text: 'a', file: '/etc/coredns/Corefile', line: 1 },
    { text: 'b', file: '/etc/coredns/Corefile', line: 2 },
  ]);
});

t.test('endLine counts line breaks inside a token', async (t) => {
  t.equal(endLine({ text: 'plain', file: 'f', line: 4 }), 4);
  t.equal(endLine({ text: 'a\nb\nc', file: 'f', line: 4 }), 6);
});

t.test('isSpace follows Go unicode.IsSpace', async (t) => {
  for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x85, 0xa0, 0x2000, 0x3000]) t.ok(isSpace(c), c.toString(16));
  for (const c of [0x41, 0x7b, 0xfeff, 0x200b]) t.notOk(isSpace(c), c.toString(16));
});
