// Twenty-odd user mistakes, each with the message it must produce and where it must point.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../dsl/diagnostics.ts';
import { check, t, traceError, where } from './helpers.ts';

function only(src: string) {
  const ds = check(src);
  expect(ds.length, ds.map(formatDiagnostic).join('\n\n')).toBe(1);
  return ds[0];
}

describe('syntax mistakes', () => {
  it('an unclosed call', () => {
    const d = only('fn f(x: f32[N]) -> f32[N] {\n  exp(x\n}\n');
    expect(d.message).toBe("unexpected '}': expected ',' or ')' after an argument");
    expect(where(d)).toBe('3:1');
  });

  it('two statements on one line', () => {
    const d = only('fn f(x: f32[N]) -> f32[N] {\n  let a = x let b = a\n  b\n}\n');
    expect(d.message).toMatch(/unexpected 'let': expected a line break or ';'/);
    expect(where(d)).toBe('2:13');
    expect(d.help).toMatch(/own line/);
  });

  it('= where == was meant', () => {
    const d = only('fn f(n: int) -> int {\n  if n = 2 { 1 } else { 0 }\n}\n');
    expect(d.message).toBe("expected '{' but found '='");
    expect(where(d)).toBe('2:8');
    expect(d.help).toMatch(/use '==' to compare/);
  });

  it('a float used as a tensor dtype', () => {
    const d = only('fn f(x: float[N]) -> f32[N] { x }\n');
    expect(d.message).toBe("'float' is not a tensor dtype");
    expect(where(d)).toBe('1:9');
    expect(d.help).toMatch(/f32\[\.\.\.\]/);
  });

  it('a Python-style colon block', () => {
    const d = only('fn f(x: f32[N]) -> f32[N]:\n  x\n');
    expect(d.message).toMatch(/expected '\{' but found ':'/);
    expect(d.help).toMatch(/\{ \}/);
  });
});

describe('name mistakes', () => {
  it('an unknown name suggests the closest one', () => {
    const d = only('fn f(x: f32[N]) -> f32[N] {\n  let scale = 2.0\n  x * scael\n}\n');
    expect(d.message).toBe("unknown name 'scael'");
    expect(where(d)).toBe('3:7');
    expect(d.help).toBe("did you mean 'scale'?");
  });

  it('an unknown keyword argument', () => {
    const d = only('fn g(x: f32[N], k: int = 1) -> f32[N] { x }\nfn f(x: f32[N]) -> f32[N] {\n  g(x, kk: 2)\n}\n');
    expect(d.message).toBe("g has no parameter 'kk'");
    expect(where(d)).toBe('3:8');
  });

  it('a missing argument', () => {
    const d = only('fn g(x: f32[N], k: int) -> f32[N] { x }\nfn f(x: f32[N]) -> f32[N] {\n  g(x)\n}\n');
    expect(d.message).toBe("missing argument 'k' of g");
    expect(where(d)).toBe('3:3');
    expect(d.notes?.[0].message).toMatch(/declared here/);
  });

  it('assigning to a parameter', () => {
    const d = only('fn f(x: f32[N]) -> f32[N] {\n  x = exp(x)\n  x\n}\n');
    expect(d.message).toMatch(/cannot assign to 'x': it is a parameter/);
    expect(where(d)).toBe('2:3');
  });
});

describe('shape mistakes', () => {
  it('sizes that do not broadcast', () => {
    const d = only('fn f(a: f32[B, 8], b: f32[B, 12]) -> f32[B, 8] {\n  a + b\n}\n');
    expect(d.message).toBe("shapes do not broadcast in '+': f32[B, 8] and f32[B, 12] differ on axis 1 (8 vs 12)");
    expect(where(d)).toBe('2:3');
    expect(d.help).toMatch(/make one of them 1/);
  });

  it('different dtypes in arithmetic', () => {
    const d = only('fn f(a: f32[N], b: i32[N]) -> f32[N] {\n  a * b\n}\n');
    expect(d.message).toBe("'*' needs operands of one dtype, got f32[N] and i32[N]");
    expect(d.help).toMatch(/cast\(x, f32\)/);
  });

  it('matmul with mismatched contracted axes', () => {
    const d = only('fn f(a: f32[M, K], b: f32[J, N]) -> f32[M, N] {\n  a @ (b + 0.0)\n}\nfn g(a: f32[4, 3], b: f32[5, 2]) -> f32[4, 2] {\n  a @ b\n}\n');
    expect(d.message).toBe('@: f32[4, 3] @ f32[5, 2]: the contracted axes differ (3 vs 5)');
    expect(where(d)).toBe('5:3');
  });

  it('a convolution whose weight expects other channels', () => {
    const d = only('fn f(x: f32[B, 4, T, H, W], w: f32[8, 3, 3, 3, 3]) -> f32[B, 8, _, _, _] {\n  conv(x, w)\n}\n');
    expect(d.message).toMatch(/^conv: input f32\[B, 4, T, H, W\] has 4 channels on axis 1 but weight f32\[8, 3, 3, 3, 3\] expects 3$/);
    expect(where(d)).toBe('2:3');
  });

  it('a reshape that changes the element count', () => {
    const d = only('fn f(x: f32[B, 6]) -> f32[B, 4] {\n  reshape(x, [B, 4])\n}\n');
    expect(d.message).toBe('reshape: f32[B, 6] has 6*B elements but the new shape [B, 4] has 4*B');
    expect(where(d)).toBe('2:3');
  });

  it('a permutation that repeats an axis', () => {
    const d = only('fn f(x: f32[A, B, C]) -> f32[A, B, C] {\n  permute(x, [0, 1, 1])\n}\n');
    expect(d.message).toMatch(/permute: \[0, 1, 1\] is not a permutation of the 3 axes/);
  });

  it('concatenation of tensors that differ off the concatenation axis', () => {
    const d = only('fn f(a: f32[2, 3], b: f32[2, 4]) -> f32[4, 3] {\n  concat([a, b], axis: 0)\n}\n');
    expect(d.message).toBe('concat along axis 0: tensor 1 f32[2, 4] and tensor 0 f32[2, 3] differ on axis 1 (4 vs 3)');
  });

  it('an argument of the wrong rank', () => {
    const d = only('fn g(x: f32[B, C, T]) -> f32[B, C, T] { x }\nfn f(x: f32[B, C]) -> f32[B, C, 1] {\n  g(x)\n}\n');
    expect(d.message).toBe("argument 'x' of g must be f32[B, C, T] (rank 3) but is f32[B=B, C=C] (rank 2)".replace('f32[B=B, C=C]', 'f32[B, C]'));
    expect(where(d)).toBe('3:5');
  });

  it('a result that contradicts the declared type', () => {
    const d = only('fn f(x: f32[B, C]) -> f32[B, 2 * C] {\n  exp(x)\n}\n');
    expect(d.message).toBe('the result of f must be f32[B, 2 * C] but is f32[B, C]: axis 1 is C, expected 2 * C = 2*C');
    expect(where(d)).toBe('2:3');
  });

  it('a reduction over an axis name the tensor does not have', () => {
    const d = only('fn f(x: f32[B, C]) -> f32[B] {\n  sum(x, axis: Q)\n}\n');
    expect(d.message).toBe("sum(): f32[B, C] has no axis named 'Q'");
    expect(where(d)).toBe('2:16');
    expect(d.help).toMatch(/named axes are B, C/);
  });

  it('a size used where an axis is expected', () => {
    const d = only('fn f(x: f32[B, C, T]) -> f32[B] {\n  let y = reshape(x, [B, C * T])\n  sum(y, axis: T)\n}\n');
    expect(d.message).toMatch(/has no axis named 'T' \('T' is a size, not an axis of this tensor\)/);
    expect(where(d)).toBe('3:16');
  });

  it('a rearrange whose sides name different axes', () => {
    const d = only('fn f(x: f32[B, C, H, W]) -> f32[B, _, C] {\n  rearrange(x, "b c h w -> b (h q) c")\n}\n');
    expect(d.message).toMatch(/rearrange: both sides .* must name the same axes; 'w' only on the left; 'q' only on the right/);
  });

  it('split sizes that do not add up', () => {
    const d = only('fn f(x: f32[B, 8]) -> f32[B, 3] {\n  let (a, b) = split(x, [3, 4], axis: 1)\n  a\n}\n');
    expect(d.message).toBe('split(): the sizes add up to 7 but axis 1 of f32[B, 8] is 8');
    expect(where(d)).toBe('2:16');
  });

  it('a tensor index out of range', () => {
    const d = only('fn f(x: f32[4, 3]) -> f32[3] {\n  x[4]\n}\n');
    expect(d.message).toBe('index 4 is out of range for axis 0 of f32[4, 3] (size 4)');
    expect(where(d)).toBe('2:5');
  });

  it('a tensor used as a branch condition', () => {
    const d = only('fn f(x: bool[N], a: f32[N]) -> f32[N] {\n  if x { a } else { -a }\n}\n');
    expect(d.message).toMatch(/an if condition must be a config bool, not a tensor bool\[N\]/);
    expect(d.help).toMatch(/where\(cond, a, b\)/);
  });
});

describe('module mistakes', () => {
  const RESNET = `
module Block(cin: int, cout: int) {
  conv = Conv3d(cin, cout, [1, 1, 1])
  if cin != cout {
    shortcut = Conv3d(cin, cout, [1, 1, 1])
  }
  fn forward(x: f32[B, cin, T, H, W]) -> f32[B, cout, T, H, W] {
    conv(x) + BODY
  }
}
`;

  it('an optional submodule used without its condition', () => {
    const d = only(RESNET.replace('BODY', 'shortcut(x)'));
    expect(d.message).toBe("'shortcut' of Block exists only when cin != cout");
    expect(where(d)).toBe('8:15');
    expect(d.help).toBe('use it inside `if cin != cout { ... }`');
  });

  it('the same code guarded by the condition checks cleanly', () => {
    expect(check(RESNET.replace('BODY', 'if cin != cout { shortcut(x) } else { x }'))).toEqual([]);
  });

  it('a weight shape naming something that is not config', () => {
    const d = only('module M(n: int) {\n  param w: f32[n, m]\n}\n');
    expect(d.message).toBe("'m' in the shape of weight 'w' is not a module parameter or let");
    expect(where(d)).toBe('2:19');
  });

  it('an input whose axis is a parenthesised product of config values, quoted with its parentheses', () => {
    const e = traceError('module M(a: int, b: int) {\n  fn forward(x: f32[(a // 2) * (b // 2)]) -> f32[(a // 2) * (b // 2)] { x }\n}\n', 'M', { a: 4, b: 6 }, 'forward', [t('x', [5])]);
    expect(e?.diagnostic.message).toBe("argument 'x' of M.forward must be f32[(a // 2) * (b // 2)] but is f32[5]: axis 0 is 5, expected (a // 2) * (b // 2) = 6");
  });

  it('an input with the wrong number of channels for the config, at bind time', () => {
    const e = traceError(RESNET.replace('BODY', 'if cin != cout { shortcut(x) } else { x }'), 'Block', { cin: 4, cout: 8 }, 'forward', [t('x', [1, 3, 2, 5, 5])]);
    expect(e?.diagnostic.message).toBe("argument 'x' of Block.forward must be f32[B, cin, T, H, W] but is f32[1, 3, 2, 5, 5]: axis 1 is 3, expected cin = 4");
    expect(where(e!.diagnostic)).toBe('7:14');
  });

  it('a violated where-constraint, at bind time', () => {
    const src = 'module V(c: int) {\n  fn forward(x: f32[B, c, T]) -> f32[B, c, T] where T % 4 == 1 {\n    x\n  }\n}\n';
    const e = traceError(src, 'V', { c: 2 }, 'forward', [t('x', [1, 2, 12])]);
    expect(e?.diagnostic.message).toBe('V.forward requires T % 4 == 1, which does not hold here (B = 1, T = 12)');
    expect(e?.diagnostic.notes?.[0].message).toBe('the constraint is declared here');
  });

  it('a config value of the wrong type', () => {
    const e = traceError('module M(n: int) {\n  param w: f32[n]\n}\n', 'M', { n: 2.5 }, 'forward', []);
    expect(e?.diagnostic.message).toBe("config 'n' of M must be an int, got 2.5");
  });
});
