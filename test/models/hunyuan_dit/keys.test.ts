/**
 * The transformer's module tree is its state-dict key space: built from the released I2V config
 * (no weights), it must list exactly the keys and shapes upstream's HYVideoDiffusionTransformer
 * has, as recorded from the upstream class in test/golden/dit_full_keys.txt.
 */
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { readKeyList } from '../key_list.ts';
import { ditProgram, RELEASED_I2V_DIT_CONFIG } from '../../../models/hunyuan_dit/transformer.ts';


describe('the released transformer module tree', () => {
  it('has exactly upstream\'s 856 keys with their shapes', () => {
    const expected = readKeyList('dit_full_keys.txt');
    const bound = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...RELEASED_I2V_DIT_CONFIG });
    const actual = new Map(bound.weights.map((w) => [w.key, [...w.shape]]));
    expect(expected.size).toBe(856);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, shape] of expected) expect(actual.get(k), k).toEqual(shape);
    // The parameter count the key file's header states.
    const params = [...actual.values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(12_821_012_544);
  });
});
