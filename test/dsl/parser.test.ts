import { describe, expect, it } from 'vitest';
import type { Expr, FnDecl, ModuleDecl } from '../../dsl/ast.ts';
import { parseFile } from '../../dsl/parser.ts';
import { SourceFile } from '../../dsl/source.ts';

const parse = (text: string) => parseFile(new SourceFile('p.kiln', text)).decls;
const body = (text: string): Expr => (parse(`fn f() {\n${text}\n}`)[0] as FnDecl).body.result!;
const show = (e: Expr): string => {
  switch (e.kind) {
    case 'binary': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'unary': return `(${e.op} ${show(e.operand)})`;
    case 'name': return e.name;
    case 'int': case 'float': return String(e.value);
    case 'call': return `${show(e.callee)}(${e.args.map((a) => (a.name ? `${a.name}: ` : '') + show(a.value)).join(', ')})`;
    case 'member': return `${show(e.object)}.${e.name}`;
    case 'if': return `if ${show(e.cond)} {${e.then.result ? show(e.then.result) : ''}} else {${e.else?.result ? show(e.else.result) : ''}}`;
    case 'range': return `${show(e.start)}..${show(e.end)}`;
    case 'list': return `[${e.items.map(show).join(', ')}]`;
    case 'tuple': return `(${e.items.map(show).join(', ')},)`;
    case 'comprehension': return `[${show(e.body)} for ${e.variable} in ${show(e.iterable)}]`;
    case 'index': return `${show(e.object)}[${e.items.map((i) => i.kind).join(', ')}]`;
    default: return e.kind;
  }
};

describe('parser', () => {
  it('respects precedence and associativity', () => {
    expect(show(body('a + b * c - d'))).toBe('((a + (b * c)) - d)');
    expect(show(body('-a ** 2'))).toBe('(- (a ** 2))');
    expect(show(body('a @ b + c'))).toBe('((a @ b) + c)');
    expect(show(body('not a == b and c or d'))).toBe('(((not (a == b)) and c) or d)');
    expect(show(body('0..n - 1'))).toBe('0..(n - 1)');
    expect(show(body('x // 2 % 3'))).toBe('((x // 2) % 3)');
  });

  it('parses calls with keyword arguments, members, indexing and comprehensions', () => {
    expect(show(body('pad(x, T: (2, 0), mode: "replicate")'))).toBe('pad(x, T: (2, 0,), mode: str)');
    expect(show(body('blocks.0.conv(x)'))).toBe('blocks.0.conv(x)');
    expect(show(body('x[:, 1:, ..., 0]'))).toBe('x[range, range, ellipsis, index]');
    expect(show(body('[f(i) for i in 0..n]'))).toBe('[f(i) for i in 0..n]');
    expect(show(body('(a,)'))).toBe('(a,)');
    expect(show(body('(a)'))).toBe('a');
  });

  it('continues lines after operators and inside brackets, and ends statements at line breaks', () => {
    const fn = parse('fn f(x: f32[N]) -> f32[N] {\n  let y = x +\n    1.0\n  let z = g(\n    y,\n    2,\n  )\n  z\n}')[0] as FnDecl;
    expect(fn.body.stmts.map((s) => s.kind)).toEqual(['let', 'let']);
    expect(show(fn.body.result!)).toBe('z');
  });

  it('parses if-expressions as operands and else-if chains', () => {
    expect(show(body('conv(x) + if c { s } else { x }'))).toBe('(conv(x) + if c {s} else {x})');
    expect(show(body('if a { 1 } else if b { 2 } else { 3 }'))).toBe('if a {1} else {if b {2} else {3}}');
  });

  it('keeps source spans on every node', () => {
    const text = 'fn f(x: f32[N]) -> f32[N] {\n  exp(x) * 2.0\n}';
    const fn = parse(text)[0] as FnDecl;
    const e = fn.body.result!;
    expect(text.slice(e.span.start, e.span.end)).toBe('exp(x) * 2.0');
    expect(text.slice(fn.nameSpan.start, fn.nameSpan.end)).toBe('f');
  });

  it('parses modules with weights, conditional members, lists of submodules and where-clauses', () => {
    const [m] = parse(`module M(c: int, k: [int; 3] = [1, 1, 1]) {
  param w: f32[c, c, k[0], k[1], k[2]]
  if c > 1 {
    extra = Linear(c, c)
  } else {
    let none_here = 0
  }
  blocks = [Linear(c, c) for _ in 0..2]
  fn forward(x: f32[B, c, T])
      -> f32[B, c, (T - 1) // 4 + 1]
      where T % 4 == 1, c > 0 {
    x
  }
}`) as ModuleDecl[];
    expect(m.params.map((p) => p.name)).toEqual(['c', 'k']);
    expect(m.members.map((x) => x.kind)).toEqual(['weight', 'member_if', 'submodule', 'fn']);
    const fn = m.members[3] as FnDecl;
    expect(fn.constraints).toHaveLength(2);
    expect(fn.result?.items[0].type.kind).toBe('type_tensor');
  });

  it('treats where(...) on a new line as a call, not a constraint', () => {
    const fn = parse('fn f(m: bool[N], a: f32[N]) -> f32[N] {\n  let b = a\n  where(m, a, b)\n}')[0] as FnDecl;
    expect(show(fn.body.result!)).toBe('where(m, a, b)');
  });
});
