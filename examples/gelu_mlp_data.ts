/**
 * Writes example inputs for gelu_mlp.kiln into a folder: `weights.safetensors` (GeluMLP with
 * gelu_mlp.json's config: fc1.weight [32, 8], fc1.bias [32], fc2.weight [8, 32], fc2.bias [8])
 * and `x.safetensors` (one tensor `x` [2, 5, 8]). Values come from a fixed-seed generator, so
 * every run writes the same files.
 *
 *   npx tsx examples/gelu_mlp_data.ts OUT_DIR
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../runtime/tensor.ts';
import { writeSafetensors } from '../runtime/weights/safetensors.ts';

/** A small linear congruential generator: uniform values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * scale;
  });
}

const tensor = (shape: number[], seed: number, scale: number): HostTensor => ({
  dtype: 'F32', shape, data: values(shape.reduce((a, b) => a * b, 1), seed, scale),
});

export function writeGeluMlpData(dir: string): { weights: string; x: string } {
  mkdirSync(dir, { recursive: true });
  const weights = join(dir, 'weights.safetensors');
  const x = join(dir, 'x.safetensors');
  writeSafetensors(weights, {
    'fc1.weight': tensor([32, 8], 1, 0.35),
    'fc1.bias': tensor([32], 2, 0.1),
    'fc2.weight': tensor([8, 32], 3, 0.18),
    'fc2.bias': tensor([8], 4, 0.1),
  });
  writeSafetensors(x, { x: tensor([2, 5, 8], 5, 1) });
  return { weights, x };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx examples/gelu_mlp_data.ts OUT_DIR');
    process.exit(2);
  }
  const written = writeGeluMlpData(dir);
  console.log(`wrote ${written.weights} and ${written.x}`);
}
