/**
 * The VAE's module tree is its state-dict key space: built from the released config (no
 * weights), it must list exactly the keys and shapes upstream's AutoencoderKLCausal3D has, as
 * recorded from the upstream class in test/golden/vae_full_keys.txt.
 */
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { readKeyList } from '../key_list.ts';
import { kilnVaeConfig, RELEASED_VAE_CONFIG, vaeProgram } from '../../../models/hunyuan_vae/autoencoder.ts';


describe('the released VAE module tree', () => {
  it('has exactly upstream\'s 248 keys with their shapes', () => {
    const expected = readKeyList('vae_full_keys.txt');
    const bound = bindModule(vaeProgram(), 'AutoencoderKLCausal3D', kilnVaeConfig(RELEASED_VAE_CONFIG));
    const actual = new Map(bound.weights.map((w) => [w.key, [...w.shape]]));
    expect(expected.size).toBe(248);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, shape] of expected) expect(actual.get(k), k).toEqual(shape);
    // The parameter count the key file's header states.
    const params = [...actual.values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(246_478_803);
  });
});
