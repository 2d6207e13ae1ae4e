/**
 * Kiln's tokens (chevrotain). Newlines end statements and members, as in Python; a newline is
 * dropped where it cannot end one: inside () and [], after an operator, comma, `=`, `->`, `{`
 * or `:`, and before `else`, a `where` clause or a closing `}`, so long expressions wrap naturally.
 */
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { error } from './diagnostics.ts';
import type { SourceFile } from './source.ts';

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r]+/, group: Lexer.SKIPPED });
const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });
export const Newline = createToken({ name: 'Newline', pattern: /\n/, label: 'end of line', line_breaks: true });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'a name' });

function keyword(word: string): TokenType {
  return createToken({ name: `Kw_${word}`, pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'` });
}

export const Kw = {
  module: keyword('module'),
  fn: keyword('fn'),
  param: keyword('param'),
  let: keyword('let'),
  if: keyword('if'),
  else: keyword('else'),
  for: keyword('for'),
  in: keyword('in'),
  import: keyword('import'),
  assert: keyword('assert'),
  and: keyword('and'),
  or: keyword('or'),
  not: keyword('not'),
  true: keyword('true'),
  false: keyword('false'),
  none: keyword('none'),
};

export const FloatLit = createToken({ name: 'FloatLit', pattern: /\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/, label: 'a number' });
export const IntLit = createToken({ name: 'IntLit', pattern: /\d+/, label: 'an integer' });
export const StringLit = createToken({ name: 'StringLit', pattern: /"(?:[^"\\\n]|\\.)*"/, label: 'a string' });

function punct(name: string, text: string): TokenType {
  return createToken({ name, pattern: new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), label: `'${text}'` });
}

export const P = {
  Ellipsis: punct('Ellipsis', '...'),
  DotDot: punct('DotDot', '..'),
  Dot: punct('Dot', '.'),
  Arrow: punct('Arrow', '->'),
  EqEq: punct('EqEq', '=='),
  NotEq: punct('NotEq', '!='),
  LtEq: punct('LtEq', '<='),
  GtEq: punct('GtEq', '>='),
  Lt: punct('Lt', '<'),
  Gt: punct('Gt', '>'),
  Eq: punct('Eq', '='),
  StarStar: punct('StarStar', '**'),
  Star: punct('Star', '*'),
  SlashSlash: punct('SlashSlash', '//'),
  Slash: punct('Slash', '/'),
  Percent: punct('Percent', '%'),
  Plus: punct('Plus', '+'),
  Minus: punct('Minus', '-'),
  At: punct('At', '@'),
  LParen: punct('LParen', '('),
  RParen: punct('RParen', ')'),
  LBracket: punct('LBracket', '['),
  RBracket: punct('RBracket', ']'),
  LBrace: punct('LBrace', '{'),
  RBrace: punct('RBrace', '}'),
  Comma: punct('Comma', ','),
  Colon: punct('Colon', ':'),
  Semi: punct('Semi', ';'),
  Question: punct('Question', '?'),
};

export const allTokens: TokenType[] = [
  WhiteSpace, Comment, Newline,
  ...Object.values(Kw),
  Identifier,
  FloatLit, IntLit, StringLit,
  P.Ellipsis, P.DotDot, P.Dot, P.Arrow,
  P.EqEq, P.NotEq, P.LtEq, P.GtEq, P.Lt, P.Gt, P.Eq,
  P.StarStar, P.Star, P.SlashSlash, P.Slash, P.Percent, P.Plus, P.Minus, P.At,
  P.LParen, P.RParen, P.LBracket, P.RBracket, P.LBrace, P.RBrace,
  P.Comma, P.Colon, P.Semi, P.Question,
];

const lexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });

/** Tokens after which a line break cannot end a statement. */
const CONTINUES: ReadonlySet<TokenType> = new Set([
  P.Plus, P.Minus, P.Star, P.StarStar, P.Slash, P.SlashSlash, P.Percent, P.At,
  P.EqEq, P.NotEq, P.Lt, P.LtEq, P.Gt, P.GtEq, P.Eq, P.Arrow, P.Comma, P.Colon, P.LBrace, P.Dot, P.DotDot,
  Kw.and, Kw.or, Kw.not, Kw.in, Kw.else,
]);
/** Tokens before which a line break cannot end a statement. */
const CONTINUED_BY: ReadonlySet<TokenType> = new Set([Kw.else, P.RBrace, P.Arrow]);

export function tokenize(file: SourceFile): IToken[] {
  const res = lexer.tokenize(file.text);
  if (res.errors.length > 0) {
    const e = res.errors[0];
    const ch = file.text.slice(e.offset, e.offset + e.length);
    throw error(`unexpected character ${JSON.stringify(ch)}`, { file, start: e.offset, end: e.offset + Math.max(1, e.length) }, {
      help: 'Kiln source uses ASCII names, numbers, strings in double quotes, and # comments',
    });
  }
  // Filter newlines by bracket nesting and neighbouring tokens.
  const out: IToken[] = [];
  const nesting: TokenType[] = [];
  const toks = res.tokens;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const type = t.tokenType;
    if (type === P.LParen || type === P.LBracket || type === P.LBrace) nesting.push(type);
    else if (type === P.RParen || type === P.RBracket || type === P.RBrace) nesting.pop();
    if (type !== Newline) {
      out.push(t);
      continue;
    }
    const inside = nesting.length > 0 && nesting[nesting.length - 1] !== P.LBrace;
    const prev = out[out.length - 1];
    let j = i + 1;
    while (j < toks.length && toks[j].tokenType === Newline) j++;
    const next = toks[j];
    if (inside || !prev || prev.tokenType === Newline || CONTINUES.has(prev.tokenType)) continue;
    if (next === undefined || CONTINUED_BY.has(next.tokenType)) continue;
    // `where` is a contextual keyword: a constraint clause continues a signature, while
    // `where(c, a, b)` at the start of a line is a call.
    if (next.image === 'where' && toks[j + 1]?.tokenType !== P.LParen) continue;
    out.push(t);
  }
  return out;
}
