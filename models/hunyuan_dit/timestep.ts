/**
 * The sinusoidal timestep embedding the transformer's embedders start from (upstream
 * `timestep_embedding`, spec/pipeline.md §8.3): [cos(t·f_j) ; sin(t·f_j)] with
 * f_j = exp(−ln(max_period) · j / half). Upstream builds it in float32 even when the network runs
 * in another precision, and t reaches 1000 (guidance ≈ 6000), where the float32 rounding of t·f_j
 * moves cos and sin by ~1e-4; so it is made here on the host in PyTorch's float32 order (its exp
 * included: expF32), and fed to the Kiln network as an input, like the RoPE tables.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { expF32 } from '../common/torch_f32.ts';

const f32 = Math.fround;

/** [B, dim] embeddings of the B timesteps (dim even; an odd dim gets a zero last column, as upstream). */
export function timestepSinusoid(t: ArrayLike<number>, dim = 256, maxPeriod = 10000): HostTensor {
  if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`timestep embedding width ${dim}: expected an integer of at least 2`);
  const half = Math.floor(dim / 2);
  const scale = f32(-Math.log(maxPeriod));
  const freqs = Array.from({ length: half }, (_, j) => expF32(f32(f32(scale * j) / half)));
  const out = new Float32Array(t.length * dim);
  for (let b = 0; b < t.length; b++) {
    const tb = f32(t[b]);
    for (let j = 0; j < half; j++) {
      const arg = f32(tb * freqs[j]);
      out[b * dim + j] = Math.cos(arg);
      out[b * dim + half + j] = Math.sin(arg);
    }
  }
  return { dtype: 'F32', shape: [t.length, dim], data: out };
}
