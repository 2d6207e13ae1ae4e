/**
 * Entry resolution and binding signatures on small in-memory programs: how each axis of a
 * declared tensor type is classified once the config is known, output names, argument
 * ordering with literal defaults, and the shape checks `kiln run` and the bindings share.
 */
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { FREE_FUNCTION_MODULE, resolveEntry } from '../../../compiler/bindings/entry.ts';
import { BindingInputError, EntryError } from '../../../compiler/bindings/errors.ts';
import { functionSignature, instanceScope, orderArguments, shapeProblem, type FunctionSig, type TensorParam } from '../../../compiler/bindings/signature.ts';
import { loadSources } from '../../../dsl/program.ts';

const SOURCE = `
# Scales and shifts the channels.
module Affine(channels: int, stride: [int; 2] = [2, 3], let_me: bool = true) {
  param weight: f32[channels]
  let half = channels // 2

  # The main thing.
  fn forward(x: f32[B, channels, H, W], mask: f32[H, W] = none, gain: float = 1.5) -> f32[B, channels, H, W] {
    x * reshape(weight, [channels, 1, 1]) * gain
  }

  fn split(x: f32[B, channels, ...S]) -> (lo: f32[B, half, ...S], hi: f32[B, channels - half, ...S]) {
    (lo: x[:, :half], hi: x[:, half:])
  }

  fn pooled(x: f32[B, channels, H, W]) -> (f32[B, channels, (H - 1) // stride[0] + 1, W // stride[1]], f32[B]) {
    (x[:, :, ::stride[0], :W // stride[1] * stride[1]:stride[1]], sum(x, axis: [1, 2, 3]))
  }
}

fn ramp(n: int, x: f32[K], scale: float = 2.0, offset: float = -1.0) -> f32[n] {
  cast(iota([n], 0), f32) * scale + offset + sum(x)
}
`;

const program = () => loadSources({ 'affine.kiln': SOURCE }, 'affine.kiln');

function moduleSig(fn: string, config: Record<string, unknown> = { channels: 6 }): FunctionSig {
  const p = program();
  const entry = resolveEntry(p, `Affine.${fn}`);
  const bound = bindModule(entry.program, entry.moduleName, config);
  return functionSignature(entry.fn, instanceScope(bound.instance));
}

describe('resolveEntry', () => {
  it('resolves Module.fn, Module (forward, every function bound) and free functions', () => {
    const p = program();
    const split = resolveEntry(p, 'Affine.split');
    expect([split.kind, split.moduleName, split.fn.name, split.functions.map((f) => f.name)]).toEqual(['module', 'Affine', 'split', ['split']]);
    const whole = resolveEntry(p, 'Affine');
    expect([whole.fn.name, whole.functions.map((f) => f.name)]).toEqual(['forward', ['forward', 'split', 'pooled']]);
    const ramp = resolveEntry(p, 'ramp');
    expect([ramp.kind, ramp.moduleName, ramp.fn.name]).toEqual(['function', FREE_FUNCTION_MODULE, 'ramp']);
    // The wrapped program binds the free function like a module with no config and no weights.
    const bound = bindModule(ramp.program, ramp.moduleName, {});
    expect(bound.weights).toEqual([]);
    const graph = bound.trace({ fn: 'ramp', args: [{ kind: 'value', value: 4 }, { kind: 'tensor', name: 'x', shape: [3], dtype: 'f32' }] });
    expect(graph.outputs.map((o) => [o.name, o.node.shape])).toEqual([['out', [4]]]);
  });

  it('names what exists when the entry does not', () => {
    const p = program();
    expect(() => resolveEntry(p, 'Nope')).toThrow(EntryError);
    expect(() => resolveEntry(p, 'Nope')).toThrow(/no module or function named Nope .*modules: Affine; functions: ramp/);
    expect(() => resolveEntry(p, 'Affine.nope')).toThrow(/module Affine has no function nope; its functions are forward, split, pooled/);
    expect(() => resolveEntry(p, 'Other.forward')).toThrow(/there is no module Other/);
  });
});

describe('functionSignature', () => {
  it('fills config values into shapes and keeps size variables', () => {
    const sig = moduleSig('forward');
    expect(sig.sizes).toEqual(['B', 'H', 'W']);
    expect(sig.doc).toBe('The main thing.');
    const [x, mask, gain] = sig.params;
    expect(x).toMatchObject({ kind: 'tensor', dtype: 'f32', optional: false, declared: 'f32[B, channels, H, W]' });
    expect((x as TensorParam).dims).toEqual([{ kind: 'size', name: 'B' }, { kind: 'const', value: 6 }, { kind: 'size', name: 'H' }, { kind: 'size', name: 'W' }]);
    expect(mask).toMatchObject({ kind: 'tensor', optional: true, defaultText: 'none' });
    expect(gain).toMatchObject({ kind: 'value', type: { kind: 'float' }, optional: true, literalDefault: { json: 1.5 } });
    expect(sig.outputs).toEqual([{ name: 'out', dtype: 'f32', dims: (x as TensorParam).dims, declared: 'f32[B, channels, H, W]' }]);
  });

  it('evaluates lets and arithmetic on the config, and keeps packs', () => {
    const sig = moduleSig('split', { channels: 7 });
    expect(sig.packs).toEqual(['S']);
    expect(sig.outputs!.map((o) => [o.name, o.dims])).toEqual([
      ['lo', [{ kind: 'size', name: 'B' }, { kind: 'const', value: 3 }, { kind: 'pack', name: 'S' }]],
      ['hi', [{ kind: 'size', name: 'B' }, { kind: 'const', value: 4 }, { kind: 'pack', name: 'S' }]],
    ]);
  });

  it('simplifies what the config decides and leaves the rest as expressions; unnamed tuples are out0, out1', () => {
    // stride = [1, 3]: (H - 1) // 1 + 1 is H; W // 3 stays an expression.
    const sig = moduleSig('pooled', { channels: 2, stride: [1, 3] });
    expect(sig.outputs!.map((o) => [o.name, o.dims])).toEqual([
      ['out0', [{ kind: 'size', name: 'B' }, { kind: 'const', value: 2 }, { kind: 'size', name: 'H' }, { kind: 'expr', text: 'W // stride[1]' }]],
      ['out1', [{ kind: 'size', name: 'B' }]],
    ]);
  });

  it('treats sizes given by int arguments as expressions, and defaults as written', () => {
    const entry = resolveEntry(program(), 'ramp');
    const sig = functionSignature(entry.fn);
    expect(sig.sizes).toEqual(['K']);
    expect(sig.outputs![0].dims).toEqual([{ kind: 'expr', text: 'n' }]);
    expect(sig.params.map((p) => (p.kind === 'value' ? p.literalDefault?.json : undefined))).toEqual([undefined, undefined, 2, -1]);
  });
});

describe('orderArguments', () => {
  const sig = () => functionSignature(resolveEntry(program(), 'ramp').fn);
  const order = (given: Record<string, string>) => orderArguments(sig(), new Map(Object.entries(given)), (json) => `default ${JSON.stringify(json)}`, 'ramp');

  it('orders by parameter, fills skipped literal defaults and stops at the last given', () => {
    expect(order({ x: 'X', n: 'N' })).toEqual(['N', 'X']);
    expect(order({ offset: 'O', x: 'X', n: 'N' })).toEqual(['N', 'X', 'default 2', 'O']);
  });

  it('reports unknown and missing parameters with the signature', () => {
    expect(() => order({ n: 'N', x: 'X', bias: 'b' })).toThrow(BindingInputError);
    expect(() => order({ n: 'N', x: 'X', bias: 'b' })).toThrow(/ramp has no parameter 'bias'; its parameters are n: int, x: f32\[K\], scale: float \(optional\), offset: float \(optional\)/);
    expect(() => order({ n: 'N' })).toThrow(/ramp needs 'x' \(f32\[K\]\)/);
  });
});

describe('shapeProblem', () => {
  const x = () => moduleSig('forward').params[0] as TensorParam;
  const splitX = () => moduleSig('split').params[0] as TensorParam;

  it('accepts shapes that fit and binds size variables across inputs', () => {
    const sizes = new Map<string, { size: number; from: string }>();
    expect(shapeProblem(x(), [2, 6, 4, 5], sizes)).toBeUndefined();
    expect(sizes.get('H')).toEqual({ size: 4, from: 'x' });
    const other = { ...x(), name: 'y' };
    expect(shapeProblem(other, [2, 6, 4, 7], sizes)).toBe('has W = 7 on axis 3, but x gave W = 5');
  });

  it('reports the rank and the axes the config fixes', () => {
    expect(shapeProblem(x(), [2, 6, 4], new Map())).toBe('has 3 axes but x: f32[B, channels, H, W] has 4 axes');
    expect(shapeProblem(x(), [2, 5, 4, 4], new Map())).toBe('has 5 on axis 1 but x: f32[B, channels, H, W] needs 6 there (f32[B, 6, H, W] with this config)');
  });

  it('lets a pack take any number of axes', () => {
    expect(shapeProblem(splitX(), [1, 6], new Map())).toBeUndefined();
    expect(shapeProblem(splitX(), [1, 6, 2, 3, 4], new Map())).toBeUndefined();
    expect(shapeProblem(splitX(), [1], new Map())).toBe('has 1 axes but x: f32[B, channels, ...S] needs at least 2');
  });
});
