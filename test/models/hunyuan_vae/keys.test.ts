/**
 * The VAE's module tree is its state-dict key space: built from the released config (no
 * weights), it must list exactly the keys and shapes upstream's AutoencoderKLCausal3D has, as
 * recorded from the upstream class in test/golden/vae_full_keys.txt.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { kilnVaeConfig, RELEASED_VAE_CONFIG, vaeProgram } from '../../../models/hunyuan_vae/autoencoder.ts';

function goldenKeys(): Map<string, number[]> {
  const text = readFileSync(new URL('../../golden/vae_full_keys.txt', import.meta.url), 'utf8');
  const out = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^(\S+) \[([\d,]*)\]$/.exec(line.trim());
    if (!m) throw new Error(`unparsed line in vae_full_keys.txt: ${line}`);
    out.set(m[1], m[2] === '' ? [] : m[2].split(',').map(Number));
  }
  return out;
}

describe('the released VAE module tree', () => {
  it('has exactly upstream\'s 248 keys with their shapes', () => {
    const expected = goldenKeys();
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
