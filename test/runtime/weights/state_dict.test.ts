import { describe, expect, it } from 'vitest';
import { filterPrefix, flattenTensors, selectStateDict, stripPrefix, topLevelNames } from '../../../runtime/weights/state_dict.ts';

/** Leaves in these tests are objects tagged `leaf`. */
type Leaf = { leaf: string };
const leaf = (name: string): Leaf => ({ leaf: name });
const isLeaf = (v: unknown): v is Leaf => typeof v === 'object' && v !== null && 'leaf' in v;
const flat = (v: unknown) => [...flattenTensors(v, isLeaf, 'ckpt.pt')].map(([k, x]) => [k, x.leaf]);

describe('flattenTensors', () => {
  it('joins dict keys and list indices with dots, skipping non-tensor leaves', () => {
    const v = new Map<unknown, unknown>([
      ['model', new Map<unknown, unknown>([['conv.weight', leaf('a')], ['blocks', [leaf('b'), new Map([['w', leaf('c')]])]]])],
      ['epoch', 3],
      [7, leaf('d')],
      ['name', 'x'],
    ]);
    expect(flat(v)).toEqual([['model.conv.weight', 'a'], ['model.blocks.0', 'b'], ['model.blocks.1.w', 'c'], ['7', 'd']]);
  });

  it('refuses two tensors that flatten to one key', () => {
    const v = new Map<unknown, unknown>([['a.b', leaf('x')], ['a', new Map([['b', leaf('y')]])]]);
    expect(() => flat(v)).toThrow(/ckpt\.pt: two tensors would both be named "a\.b"/);
  });

  it('survives cycles and keeps shared containers under each key', () => {
    const shared = new Map<unknown, unknown>([['w', leaf('s')]]);
    const loop: unknown[] = [leaf('l')];
    loop.push(loop);
    expect(flat(new Map<unknown, unknown>([['x', shared], ['y', shared], ['loop', loop]]))).toEqual([['x.w', 's'], ['y.w', 's'], ['loop.0', 'l']]);
  });

  it('refuses absurd nesting and tensors under tuple keys', () => {
    let deep: unknown = leaf('deep');
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => flat(deep)).toThrow(/nested more than 64 deep/);
    const tupleKey = new Map<unknown, unknown>([[Object.freeze([1, 2]), leaf('t')]]);
    expect(() => flat(tupleKey)).toThrow(/filed under a dict key of type tuple\/object/);
    // Without tensors below it, a tuple key is simply skipped.
    expect(flat(new Map<unknown, unknown>([[Object.freeze([1]), 5], ['ok', leaf('o')]]))).toEqual([['ok', 'o']]);
  });
});

describe('selectStateDict', () => {
  const v = new Map<unknown, unknown>([
    ['state_dict', new Map([['w', leaf('sd')]])],
    ['ema.v1', new Map([['model', new Map([['w', leaf('ema')]])]])],
    ['list', [new Map([['w', leaf('l0')]])]],
  ]);

  it('uses a top-level state_dict by default, else the whole value', () => {
    expect(flat(selectStateDict(v))).toEqual([['w', 'sd']]);
    const bare = new Map([['w', leaf('bare')]]);
    expect(selectStateDict(bare)).toBe(bare);
  });

  it('follows dotted paths, including keys that contain dots and list indices', () => {
    expect(flat(selectStateDict(v, 'ema.v1.model'))).toEqual([['w', 'ema']]);
    expect(flat(selectStateDict(v, 'list.0'))).toEqual([['w', 'l0']]);
    expect(() => selectStateDict(v, 'ema.v2', 'ckpt.pt')).toThrow(/ckpt\.pt has no entry "ema\.v2"; its top-level entries are: "state_dict", "ema\.v1", "list"/);
  });
});

describe('prefixes', () => {
  const m = new Map([['vae.enc.w', 1], ['vae.dec.w', 2], ['text.w', 3]]);

  it('strips or filters a prefix', () => {
    expect([...stripPrefix(m, 'vae.')]).toEqual([['enc.w', 1], ['dec.w', 2]]);
    expect([...filterPrefix(m, 'vae.')]).toEqual([['vae.enc.w', 1], ['vae.dec.w', 2]]);
    expect(topLevelNames(m.keys())).toBe('vae., text.');
  });
});
