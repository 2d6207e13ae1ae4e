import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { checkProgram } from '../../dsl/check.ts';
import { formatDiagnostic } from '../../dsl/diagnostics.ts';
import { loadProgram, loadSources, PRELUDE_DIR } from '../../dsl/program.ts';
import { bindModule } from '../../compiler/bind.ts';
import { check } from './helpers.ts';

const MODELS = resolve(import.meta.dirname, '../../models/hunyuan_vae');

describe('checker', () => {
  it('checks the prelude and the VAE models without errors', () => {
    for (const files of [[`${PRELUDE_DIR}/prelude.kiln`, `${PRELUDE_DIR}/nn.kiln`], [`${MODELS}/blocks.kiln`, `${MODELS}/vae.kiln`]]) {
      const r = checkProgram(loadProgram(files));
      expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
      expect(r.checked.length).toBeGreaterThan(5);
    }
  });

  it('proves a causal conv keeps the frame count, with no obligation left', () => {
    const r = checkProgram(loadSources({ 'c.kiln': `
module C(c: int) {
  conv = Conv3d(c, c, [3, 3, 3])
  fn forward(x: f32[B, c, T, H, W]) -> f32[B, c, T, H, W] {
    conv(pad(x, T: (2, 0), H: (1, 1), W: (1, 1), mode: "replicate"))
  }
}` }, 'c.kiln'));
    expect(r.diagnostics).toEqual([]);
    expect(r.obligations).toEqual([]);
  });

  it('uses where-constraints: T = 4k + 1 makes (T - 1) // 4 + 1 exact', () => {
    const src = `
fn latents(x: f32[B, T]) -> f32[B, (T - 1) // 4 + 1] where T % 4 == 1 {
  x[:, ::4]
}`;
    const r = checkProgram(loadSources({ 'l.kiln': src }, 'l.kiln'));
    expect(r.diagnostics).toEqual([]);
    expect(r.obligations).toEqual([]);
  });

  it('discharges group_norm divisibility with a symbolic modulus', () => {
    const r = checkProgram(loadSources({ 'g.kiln': `
fn g(x: f32[B, C, N], groups: int) -> f32[B, groups, C // groups * N] where C % groups == 0 {
  reshape(x, [B, groups, -1])
}` }, 'g.kiln'));
    expect(r.diagnostics).toEqual([]);
    expect(r.obligations).toEqual([]);
  });

  it('leaves what it cannot prove as obligations instead of errors', () => {
    const r = checkProgram(loadSources({ 'o.kiln': 'fn f(a: f32[N], b: f32[M]) -> f32[N] {\n  a + b\n}\n' }, 'o.kiln'));
    expect(r.diagnostics).toEqual([]);
    expect(r.obligations.map((o) => o.message)).toEqual(["shapes do not broadcast in '+': f32[N] and f32[M] differ on axis 0 (N vs M): N == M"]);
  });

  it('learns equalities on branches: if cin == cout, x has cout channels', () => {
    expect(check(`
fn f(x: f32[B, cin], w: f32[cout, cin], cin: int, cout: int) -> f32[B, cout] {
  if cin == cout { x } else { x @ transpose(w) }
}`)).toEqual([]);
  });

  it('widens loops whose carried tensor changes shape', () => {
    expect(check(`
module Stack(widths: [int]) {
  layers = [Linear(if i == 0 { 4 } else { widths[i - 1] }, widths[i]) for i in 0..len(widths)]
  fn forward(x: f32[B, 4]) -> f32[B, _] {
    let h = x
    for layer in layers {
      h = layer(h)
    }
    h
  }
}`)).toEqual([]);
  });

  it('names state-dict keys after the module tree (lists, optional members, nesting)', () => {
    const program = loadProgram([`${MODELS}/blocks.kiln`, `${MODELS}/vae.kiln`]);
    const bound = bindModule(program, 'DownEncoderBlockCausal3D', { in_channels: 4, out_channels: 8, num_layers: 2, resnet_groups: 2, add_downsample: true, downsample_stride: [2, 2, 2] });
    expect(bound.weights.map((w) => `${w.key} [${w.shape.join(',')}]`)).toEqual([
      'resnets.0.norm1.weight [4]', 'resnets.0.norm1.bias [4]', 'resnets.0.conv1.conv.weight [8,4,3,3,3]', 'resnets.0.conv1.conv.bias [8]',
      'resnets.0.norm2.weight [8]', 'resnets.0.norm2.bias [8]', 'resnets.0.conv2.conv.weight [8,8,3,3,3]', 'resnets.0.conv2.conv.bias [8]',
      'resnets.0.conv_shortcut.conv.weight [8,4,1,1,1]', 'resnets.0.conv_shortcut.conv.bias [8]',
      'resnets.1.norm1.weight [8]', 'resnets.1.norm1.bias [8]', 'resnets.1.conv1.conv.weight [8,8,3,3,3]', 'resnets.1.conv1.conv.bias [8]',
      'resnets.1.norm2.weight [8]', 'resnets.1.norm2.bias [8]', 'resnets.1.conv2.conv.weight [8,8,3,3,3]', 'resnets.1.conv2.conv.bias [8]',
      'downsamplers.0.conv.conv.weight [8,8,3,3,3]', 'downsamplers.0.conv.conv.bias [8]',
    ]);
  });

  it('matches the tiny VAE key list of the golden set exactly', async () => {
    const { readFileSync } = await import('node:fs');
    const expected = readFileSync(resolve(import.meta.dirname, '../golden/vae_tiny_keys.txt'), 'utf8');
    const program = loadProgram([`${MODELS}/blocks.kiln`, `${MODELS}/vae.kiln`]);
    const bound = bindModule(program, 'AutoencoderKLCausal3D', { block_out_channels: [8, 16, 16, 16], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4 });
    const ours = bound.weights.map((w) => `${w.key} [${w.shape.join(',')}]`).sort();
    const lines = expected.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).sort();
    expect(ours).toEqual(lines);
  });
});
