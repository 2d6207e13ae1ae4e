/**
 * Figure (c): a VAE decoder forward, decode(z) = decoder(post_quant_conv(z)), untiled, for the
 * built-in tiny VAE and a medium one: time per call (warm: kernels compiled, weights on the
 * GPU; upload of z and readback included), kernel count, planned peak memory, the number of
 * standalone elementwise kernels (the target is none: every elementwise op should be fused
 * into a contraction's or reduction's loads or stores), and the same decoder in PyTorch on the
 * CPU (bench/torch/vae_decoder.py, an independent implementation that reads the same random
 * weights from a safetensors file Kiln writes; its output is checked against Kiln's).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HunyuanVae, type VaeConfig } from '../../models/hunyuan_vae/autoencoder.ts';
import { randomVaeWeights, TINY_VAE_CONFIG } from '../../models/hunyuan_vae/random_weights.ts';
import { weightsFromMap } from '../../runtime/model.ts';
import { toFloat32, type HostTensor } from '../../runtime/tensor.ts';
import { writeSafetensors } from '../../runtime/weights/safetensors.ts';
import type { BenchContext } from '../context.ts';
import { fmt, relativeError, uniform } from '../harness.ts';

/** A medium decoder: the released layout (4 levels, 2 resnets per level, 16 latent channels, 32 groups) at a quarter of its width. */
export const MEDIUM_VAE_CONFIG: VaeConfig = { ...TINY_VAE_CONFIG, block_out_channels: [32, 64, 128, 128], layers_per_block: 2, latent_channels: 16, norm_num_groups: 32 };

export const VAE_CASES: readonly { readonly name: string; readonly config: VaeConfig; readonly latent: readonly number[] }[] = [
  { name: 'tiny', config: TINY_VAE_CONFIG, latent: [1, 4, 3, 8, 8] },
  { name: 'medium', config: MEDIUM_VAE_CONFIG, latent: [1, 16, 2, 8, 8] },
];

const mb = (b: number): number => b / 2 ** 20;

export async function runVae(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  for (const c of VAE_CASES) {
    const weights = randomVaeWeights(c.config);
    const z: HostTensor = { dtype: 'F32', shape: [...c.latent], data: uniform(c.latent.reduce((a, b) => a * b, 1), 11, -1, 1) };
    // Heuristic tiles: tuning every kernel of a decoder takes minutes on this machine (kiln tune does it ahead of time).
    const vae = new HunyuanVae(c.config, weightsFromMap(weights, `random ${c.name} VAE`), { backend: 'webgpu', device: dev, tuning: 'none' });
    const program = vae.session.prepare('decode', [z]).program!;
    const kinds = new Map<string, number>();
    for (const k of program.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
    const elementwise = program.kernels.filter((k) => k.kind === 'elementwise');
    log(`VAE ${c.name} decoder (channels ${c.config.block_out_channels.join('/')}, ${c.config.layers_per_block} resnets per level), z [${c.latent.join(', ')}]: ` +
      `${program.kernels.length} kernels (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), planned peak ${fmt(mb(program.plan.peakBytes))} MiB`);
    for (const k of elementwise) log(`    standalone elementwise kernel: ${k.name} (${k.sourceOps.slice(0, 3).join('; ')})`);
    const t0 = performance.now();
    let out = await vae.decode(z);
    log(`    first call (shader compiles, weight upload): ${fmt((performance.now() - t0) / 1000)} s`);
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      out = await vae.decode(z);
      best = Math.min(best, performance.now() - t);
    }
    rec.add(`vae_${c.name}_decoder_ms`, best, 'ms', null, null, `output [${out.shape.join(', ')}]; warm call, best of 2`);
    rec.add(`vae_${c.name}_decoder_kernels`, program.kernels.length, 'kernels');
    rec.add(`vae_${c.name}_decoder_planned_peak`, mb(program.plan.peakBytes), 'MiB', null, null, `weights ${fmt(mb(program.plan.weightBytes))} MiB, arenas ${fmt(mb(program.plan.arenaBytes))} MiB`);
    rec.add(`vae_${c.name}_decoder_standalone_elementwise_kernels`, elementwise.length, 'kernels', null, null, elementwise.map((k) => k.name).join(', ') || undefined);
    if (c.name === 'tiny') rec.add('vae_decoder_standalone_elementwise_kernels', elementwise.length, 'kernels', null, null, 'the tiny VAE decoder; target 0');
    if (ctx.torch) {
      const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-vae-'));
      try {
        writeSafetensors(join(dir, 'vae.safetensors'), weights);
        writeFileSync(join(dir, 'z.f32'), z.data as Float32Array);
        const r = ctx.torch.run<{ ms: number; shape: number[]; threads: number; cuda_ms?: number; cuda_device?: string }>('vae_decoder.py', {
          weights: join(dir, 'vae.safetensors'), config: c.config, latents: join(dir, 'z.f32'), shape: c.latent, out: join(dir, 'y.f32'), repeats: 2,
        });
        const ref = new Float32Array(readFileSync(join(dir, 'y.f32')).buffer.slice(0));
        const err = relativeError(toFloat32(out), ref);
        if (!(err < 1e-3)) throw new Error(`Kiln's and PyTorch's ${c.name} decoders disagree (relative error ${err})`);
        rec.add(`vae_${c.name}_decoder_vs_pytorch_cpu`, best, 'ms', `PyTorch ${ctx.torch.version} CPU decoder (${r.threads} threads): ${fmt(r.ms)} ms`, r.ms / best,
          `ratio = PyTorch time / Kiln time (above 1: Kiln faster); outputs agree to ${err.toExponential(1)} relative L2`);
        if (r.cuda_ms !== undefined) {
          rec.add(`vae_${c.name}_decoder_vs_pytorch_gpu`, best, 'ms', `PyTorch ${ctx.torch.version} CUDA decoder on ${r.cuda_device}: ${fmt(r.cuda_ms)} ms`, r.cuda_ms / best,
            'ratio = PyTorch time / Kiln time (above 1: Kiln faster); f32, TF32 off');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
