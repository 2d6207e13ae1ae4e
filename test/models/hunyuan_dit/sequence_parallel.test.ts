/**
 * The transformer across devices (sequence_parallel.ts) computes what the one-device forward
 * does: on the interpreter to float64 rounding (so every token, head and RoPE row lands where it
 * belongs), with shares of unequal size, token_replace, guidance and padded text; and on two
 * WebGPU devices of this machine's adapter against the interpreter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUNYUAN_I2V_LORA_PREFIX, withLora } from '../../../models/hunyuan_dit/lora.ts';
import { openSafetensors } from '../../../runtime/weights/safetensors.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors_write.ts';
import { ndRotaryPosEmbed } from '../../../models/hunyuan_dit/rope.ts';
import { randomDitWeights } from '../../../models/hunyuan_dit/random_weights.ts';
import { planSequenceSplit, SequenceParallelDit } from '../../../models/hunyuan_dit/sequence_parallel.ts';
import { HunyuanDit, type DitConfig, type DitInputs } from '../../../models/hunyuan_dit/transformer.ts';
import { WorkerSequenceParallelDit } from '../../../models/hunyuan_dit/dit_workers.ts';
import { openDeviceGroup, type DeviceGroup } from '../../../runtime/device_group.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';

const hasAdapter = (await deviceOrUndefined()) !== undefined;
let group: DeviceGroup | undefined;
afterAll(() => group?.release());
const interp = { backend: 'interp' as const };

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const tensor = (shape: number[], next: () => number): HostTensor => ({
  dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next()),
});

const TINY: DitConfig = {
  in_channels: 4, out_channels: 4, hidden_size: 48, heads_num: 6, mm_double_blocks_depth: 2, mm_single_blocks_depth: 2,
  text_states_dim: 12, text_states_dim_2: 8, patch_size: [1, 2, 2], mlp_hidden: 64, guidance_embed: true, token_replace: true, qkv_bias: true, qk_norm: true,
};

/** Latents [batch, C, T, H, W] (H may leave a row that no patch covers) with text of which `mask` marks the real tokens. */
function inputs(config: DitConfig, [batch, T, H, W]: number[], mask: number[], next: () => number): DitInputs {
  const head = config.hidden_size / config.heads_num;
  const third = 2 * Math.floor(head / 6);
  const { cos, sin } = ndRotaryPosEmbed({ ropeDimList: [head - 2 * third, third, third], grid: [T, Math.floor(H / 2), Math.floor(W / 2)], theta: 256 });
  return {
    x: tensor([batch, config.in_channels, T, H, W], next),
    t: { dtype: 'F32', shape: [batch], data: Float32Array.from({ length: batch }, (_, i) => 900 - 100 * i) },
    textStates: tensor([batch, mask.length, config.text_states_dim], next),
    textMask: { dtype: 'I32', shape: [batch, mask.length], data: Int32Array.from({ length: batch * mask.length }, (_, i) => (i < mask.length ? mask[i] : 1)) },
    textStates2: tensor([batch, config.text_states_dim_2], next),
    freqsCos: cos, freqsSin: sin,
    guidance: { dtype: 'F32', shape: [batch], data: Float32Array.from({ length: batch }, () => 6000) },
  };
}

/** Every tensor of a safetensors file. */
function openSafetensorsMap(path: string): Map<string, HostTensor> {
  const file = openSafetensors(path);
  try {
    return new Map(file.names.map((n) => [n, file.read(n)]));
  } finally {
    file.close();
  }
}

function relativeL2(got: Float64Array, want: Float64Array): number {
  let num = 0;
  let den = 0;
  want.forEach((v, i) => { num += (got[i] - v) ** 2; den += v * v; });
  return Math.sqrt(num / den);
}

describe('planSequenceSplit', () => {
  it('shares whole rows of the patch grid when they divide evenly, else whole columns, as upstream', () => {
    expect(planSequenceSplit([3, 8, 6], 4, 24)).toMatchObject({ axis: 'rows', sizes: [2, 2, 2, 2], size: 2, tokens: 3 * 2 * 6 });
    expect(planSequenceSplit([3, 5, 6], 3, 24)).toMatchObject({ axis: 'columns', sizes: [2, 2, 2], size: 2, tokens: 3 * 5 * 2 });
  });
  it('otherwise pads the shares of the longer side to the longest (720p x 129 frames on 8 GPUs: 44 x 78 patches)', () => {
    expect(planSequenceSplit([33, 44, 78], 8, 24)).toMatchObject({ axis: 'columns', sizes: [10, 10, 10, 10, 10, 10, 9, 9], size: 10, tokens: 33 * 44 * 10 });
    expect(planSequenceSplit([1, 7, 5], 3, 24)).toMatchObject({ axis: 'rows', sizes: [3, 2, 2] });
  });
  it('says what fits when nothing does', () => {
    expect(() => planSequenceSplit([1, 2, 3], 4, 24)).toThrow(/2 rows and 3 columns, fewer than the 4 devices/);
    expect(() => planSequenceSplit([1, 8, 8], 5, 24)).toThrow(/5 devices cannot share 24 attention heads evenly; use 1, 2, 3, 4, 6, 8, 12, 24 devices/);
  });
});

describe('SequenceParallelDit on the interpreter', () => {
  const weights = weightsFromMap(randomDitWeights(TINY, 11));
  const one = new HunyuanDit(TINY, weights, interp);
  for (const [name, devices, grid, mask] of [
    ['2 devices sharing rows', 2, [1, 2, 4, 6], [1, 1, 1, 0]],
    ['3 devices sharing columns (the rows do not divide)', 3, [1, 2, 4, 6], [1, 1, 0, 0, 0]],
    ['3 devices sharing rows, an odd latent height (its last row in no patch)', 3, [1, 2, 7, 4], [1, 1, 1, 1]],
    ['3 devices, padded shares of 2 + 2 + 1 rows', 3, [1, 2, 10, 4], [1, 1, 1, 0]],
    ['6 devices, padded shares of 7 rows (2 + 1 + 1 + 1 + 1 + 1)', 6, [1, 2, 14, 4], [1, 1]],
    ['6 devices (one head each), batch 2', 6, [2, 1, 12, 4], [1, 1, 1]],
  ] as const) {
    it(name, async () => {
      const a = inputs(TINY, [...grid], [...mask], seeded(devices));
      const sp = new SequenceParallelDit(TINY, weights, Array.from({ length: devices }, () => interp));
      const want = toFloat64(await one.forward(a));
      const got = await sp.forward(a);
      expect(got.shape).toEqual([grid[0], TINY.out_channels, grid[1], Math.floor(grid[2] / 2) * 2, grid[3]]);
      expect(relativeL2(toFloat64(got), want)).toBeLessThan(1e-12);
    });
  }

  it('without token_replace or guidance', async () => {
    const config = { ...TINY, token_replace: false, guidance_embed: false };
    const weights = weightsFromMap(randomDitWeights(config, 12));
    const a = inputs(config, [1, 2, 6, 4], [1, 1, 1], seeded(5));
    // Rows: 3 of them over 3 devices.
    const want = toFloat64(await new HunyuanDit(config, weights, interp).forward(a));
    const got = toFloat64(await new SequenceParallelDit(config, weights, [interp, interp, interp]).forward(a));
    expect(relativeL2(got, want)).toBeLessThan(1e-12);
  });

  it('says how many devices can share the heads', () => {
    expect(() => new SequenceParallelDit(TINY, weights, [interp, interp, interp, interp])).toThrow(/4 devices cannot share 6 attention heads evenly; use 1, 2, 3, 6 devices/);
  });
});

describe.skipIf(!hasAdapter)(hasAdapter ? 'SequenceParallelDit on two WebGPU devices' : `SequenceParallelDit on two WebGPU devices — ${NO_ADAPTER}`, () => {
  beforeAll(async () => {
    group = await openDeviceGroup(2);
  });

  it('matches the interpreter', async () => {
    const weights = weightsFromMap(randomDitWeights(TINY, 13));
    const a = inputs(TINY, [1, 2, 6, 4], [1, 1, 1, 1, 0], seeded(9));
    const want = toFloat64(await new HunyuanDit(TINY, weights, interp).forward(a));
    const sp = new SequenceParallelDit(TINY, weights, group!.devices.map((device) => ({ backend: 'webgpu' as const, device })));
    expect(relativeL2(toFloat64(await sp.forward(a)), want)).toBeLessThan(2e-6);
  }, 300_000);

  it('with f16 storage, crossing between devices in f16: as the one-device f16 forward', async () => {
    // One block of each kind: every f16 kernel is compiled anew for it, and lavapipe compiles slowly.
    const config = { ...TINY, mm_double_blocks_depth: 1, mm_single_blocks_depth: 1 };
    const weights = weightsFromMap(randomDitWeights(config, 14));
    const a = inputs(config, [1, 2, 6, 4], [1, 1, 1, 1, 0], seeded(10));
    const want = toFloat64(await new HunyuanDit(config, weights, interp).forward(a));
    const one = toFloat64(await new HunyuanDit(config, weights, { backend: 'webgpu', device: group!.devices[0], dtype: 'f16' }).forward(a));
    const sp = new SequenceParallelDit(config, weights, group!.devices.map((device) => ({ backend: 'webgpu' as const, device, dtype: 'f16' as const })));
    const got = toFloat64(await sp.forward(a));
    // Within the goldens' f16 bound (3e-3), and as close to the one-device f16 forward as to the interpreter.
    expect(relativeL2(one, want)).toBeLessThan(3e-3);
    expect(relativeL2(got, want)).toBeLessThan(3e-3);
    expect(relativeL2(got, want)).toBeLessThan(2 * relativeL2(one, want));
  }, 300_000);
});

describe('WorkerSequenceParallelDit: one worker thread per device', () => {
  const recipe = { kind: 'random', seed: 21, label: 'random' } as const;
  const weights = weightsFromMap(randomDitWeights(TINY, 21));

  it('on the interpreter, matches the one-device forward, twice, and recovers from a failed forward', async () => {
    const dit = await WorkerSequenceParallelDit.start(TINY, recipe, { devices: 3, backend: 'interp' });
    try {
      expect(dit.adapters).toEqual(['the interpreter', 'the interpreter', 'the interpreter']);
      for (const [grid, seed] of [[[1, 2, 6, 4], 31], [[2, 1, 4, 6], 32]] as const) {
        const a = inputs(TINY, [...grid], [1, 1, 1, 0], seeded(seed));
        const want = toFloat64(await new HunyuanDit(TINY, weights, interp).forward(a));
        expect(relativeL2(toFloat64(await dit.forward(a)), want)).toBeLessThan(1e-12);
      }
      // Text states of the wrong width fail in every worker; the group still works afterwards.
      const good = inputs(TINY, [1, 2, 6, 4], [1, 1], seeded(33));
      await expect(dit.forward({ ...good, textStates: tensor([1, 2, TINY.text_states_dim + 1], seeded(1)) })).rejects.toThrow(/device \d/);
      const want = toFloat64(await new HunyuanDit(TINY, weights, interp).forward(good));
      expect(relativeL2(toFloat64(await dit.forward(good)), want)).toBeLessThan(1e-12);
    } finally {
      await dit.close();
    }
  }, 120_000);

  it('opens a checkpoint with its "module." state dict and a LoRA in each worker, as kiln i2v gives them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-sp-'));
    try {
      const checkpoint = join(dir, 'mp_rank_00_model_states.safetensors');
      writeSafetensors(checkpoint, Object.fromEntries([...randomDitWeights(TINY, 22)].map(([k, v]) => [`module.${k}`, v])));
      const lora = join(dir, 'lora.safetensors');
      const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i) * 0.1) });
      writeSafetensors(lora, {
        [`${HUNYUAN_I2V_LORA_PREFIX}_double_blocks_0_img_attn_qkv.lora_up.weight`]: t([3 * TINY.hidden_size, 2]),
        [`${HUNYUAN_I2V_LORA_PREFIX}_double_blocks_0_img_attn_qkv.lora_down.weight`]: t([2, TINY.hidden_size]),
      });
      const dit = await WorkerSequenceParallelDit.start(TINY, { kind: 'checkpoint', path: checkpoint, stateDictKey: 'module', lora: { path: lora, scale: 0.5 } },
        { devices: 2, backend: 'interp' });
      try {
        const a = inputs(TINY, [1, 2, 4, 6], [1, 1, 1], seeded(35));
        const merged = withLora(weightsFromMap(randomDitWeights(TINY, 22)), weightsFromMap(new Map([...openSafetensorsMap(lora)])), 0.5).weights;
        const want = toFloat64(await new HunyuanDit(TINY, merged, interp).forward(a));
        const plain = toFloat64(await new HunyuanDit(TINY, weightsFromMap(randomDitWeights(TINY, 22)), interp).forward(a));
        const got = toFloat64(await dit.forward(a));
        expect(relativeL2(got, want)).toBeLessThan(1e-12);
        expect(relativeL2(got, plain)).toBeGreaterThan(1e-4); // the LoRA did change the model
      } finally {
        await dit.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it.skipIf(!hasAdapter)(hasAdapter ? 'two workers, each with a WebGPU device, match the interpreter and report their weight uploads' : `two workers with WebGPU devices — ${NO_ADAPTER}`, async () => {
    const uploads = new Map<number, { done: number; total: number }>();
    const dit = await WorkerSequenceParallelDit.start(TINY, recipe, { devices: 2, onUpload: (rank, p) => uploads.set(rank, p) });
    try {
      // Three patch rows over two devices: padded shares of 2 + 1 rows.
      const a = inputs(TINY, [1, 2, 6, 4], [1, 1, 1, 0], seeded(34));
      const want = toFloat64(await new HunyuanDit(TINY, weights, interp).forward(a));
      expect(relativeL2(toFloat64(await dit.forward(a)), want)).toBeLessThan(2e-6);
      // Each worker said how its weights went up, to the last one.
      expect([...uploads.keys()].sort()).toEqual([0, 1]);
      for (const p of uploads.values()) expect(p.done).toBe(p.total);
    } finally {
      await dit.close();
    }
  }, 300_000);

  it.skipIf(!hasAdapter)(hasAdapter ? 'two workers with f16 storage swap in f16 (half-size shared memory) and stay within the f16 bound' : `two workers with f16 storage — ${NO_ADAPTER}`, async () => {
    // One block of each kind: every f16 kernel is compiled anew, and lavapipe compiles slowly.
    const config = { ...TINY, mm_double_blocks_depth: 1, mm_single_blocks_depth: 1 };
    const dit = await WorkerSequenceParallelDit.start(config, { kind: 'random', seed: 23, label: 'random' }, { devices: 2, dtype: 'f16' });
    try {
      const a = inputs(config, [1, 2, 6, 4], [1, 1, 1, 0], seeded(36));
      const want = toFloat64(await new HunyuanDit(config, weightsFromMap(randomDitWeights(config, 23)), interp).forward(a));
      expect(relativeL2(toFloat64(await dit.forward(a)), want)).toBeLessThan(3e-3);
    } finally {
      await dit.close();
    }
  }, 300_000);
});
