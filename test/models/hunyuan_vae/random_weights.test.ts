/**
 * The built-in random weights: every key of the module with its shape, the golden README's init
 * rule, the documented draw (twelve 24-bit Philox words, Irwin–Hall) restated here from the
 * Philox words directly, its statistics, and determinism (same seed → same bits).
 */
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { philox4x32 } from '../../../compiler/random.ts';
import { kilnVaeConfig, vaeProgram } from '../../../models/hunyuan_vae/autoencoder.ts';
import { keyHash, randomTensor, standardDraw } from '../../../models/common/random_tensors.ts';
import { BUILTIN_WEIGHTS_SEED, builtinVaeWeights, randomVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';

/** The documented draw, written out word by word. */
function drawByHand(seed: number, id: number, i: number): number {
  const words = [0, 1, 2].flatMap((j) => philox4x32([i, id, j, 0], [seed, 0x4b494c4e]));
  expect(words).toHaveLength(12);
  const units = words.map((w) => Math.floor(w / 256) / 16777216);
  return units.reduce((a, b) => a + b, 0) - 6;
}

describe('random VAE weights', () => {
  it('cover every module key with its shape', () => {
    const bound = bindModule(vaeProgram(), 'AutoencoderKLCausal3D', kilnVaeConfig(TINY_VAE_CONFIG));
    const w = builtinVaeWeights();
    expect([...w.keys()].sort()).toEqual(bound.weights.map((s) => s.key).sort());
    for (const s of bound.weights) expect(w.get(s.key)!.shape, s.key).toEqual(s.shape);
    expect(w.size).toBe(180);
  });

  it('draw as documented', () => {
    for (const [seed, id, i] of [[0, 0, 0], [1, 2, 3], [BUILTIN_WEIGHTS_SEED, keyHash('decoder.conv_out.conv.weight'), 12345], [0xffffffff, 0xdeadbeef, 4_000_000]]) {
      expect(standardDraw(seed, id, i)).toBe(drawByHand(seed, id, i));
    }
  });

  it('follow the init rule: N(0,1)/sqrt(fan_in) for convs and linears, 1 + 0.1 N for norm scales, 0.1 N for biases', () => {
    const seed = 5;
    const conv = randomTensor('encoder.conv_in.conv.weight', [8, 3, 3, 3, 3], seed);
    const id = keyHash('encoder.conv_in.conv.weight');
    for (const i of [0, 17, 647]) expect(conv.data[i]).toBe(Math.fround(standardDraw(seed, id, i) / Math.sqrt(81)));
    const linear = randomTensor('encoder.mid_block.attentions.0.to_q.weight', [16, 16], seed);
    const lid = keyHash('encoder.mid_block.attentions.0.to_q.weight');
    expect(linear.data[7]).toBe(Math.fround(standardDraw(seed, lid, 7) / 4));
    const norm = randomTensor('decoder.conv_norm_out.weight', [8], seed);
    const nid = keyHash('decoder.conv_norm_out.weight');
    expect(norm.data[3]).toBe(Math.fround(1 + 0.1 * standardDraw(seed, nid, 3)));
    const bias = randomTensor('decoder.conv_norm_out.bias', [8], seed);
    expect(bias.data[3]).toBe(Math.fround(0.1 * standardDraw(seed, keyHash('decoder.conv_norm_out.bias'), 3)));
  });

  it('have mean 0 and variance 1 before scaling, bounded by ±6', () => {
    const n = 60_000;
    let sum = 0;
    let sq = 0;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = standardDraw(9, 77, i);
      sum += v;
      sq += v * v;
      max = Math.max(max, Math.abs(v));
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(sq / n - mean * mean).toBeGreaterThan(0.97);
    expect(sq / n - mean * mean).toBeLessThan(1.03);
    expect(max).toBeLessThan(6);
    expect(max).toBeGreaterThan(3.5);
  });

  it('are the same bits for the same seed, and differ for another seed or key', () => {
    const a = randomVaeWeights(TINY_VAE_CONFIG, 3);
    const b = randomVaeWeights(TINY_VAE_CONFIG, 3);
    const c = randomVaeWeights(TINY_VAE_CONFIG, 4);
    for (const [k, t] of a) {
      expect(Buffer.from((t.data as Float32Array).buffer).equals(Buffer.from((b.get(k)!.data as Float32Array).buffer)), k).toBe(true);
      expect(Array.from(t.data as Float32Array)).not.toEqual(Array.from(c.get(k)!.data as Float32Array));
    }
    // Two tensors of one shape under one seed are drawn independently.
    expect(Array.from(a.get('encoder.conv_norm_out.weight')!.data as Float32Array))
      .not.toEqual(Array.from(a.get('decoder.mid_block.resnets.0.norm1.weight')!.data as Float32Array));
  });
});
