/**
 * Calling gelu_mlp.kiln from TypeScript through its typed bindings (gelu_mlp.bindings.ts,
 * written by `kiln compile --emit-ts`): wrong input names, dtypes or ranks are compile errors,
 * and the outputs' shape types follow from the inputs'.
 *
 *   npx tsx examples/gelu_mlp_data.ts /tmp/mlp
 *   npx tsx examples/gelu_mlp_use.ts /tmp/mlp/weights.safetensors [interp|webgpu]
 */
import { releaseDevice } from '../runtime/device.ts';
import { tensor, type Tensor } from '../runtime/bindings_runtime.ts';
import { load } from './gelu_mlp.bindings.ts';

export interface MlpResults {
  /** forward(x). */
  readonly out: Tensor<'f32', readonly [2, 5, 8]>;
  /** forward_with_hidden(x): the output again, and the activations after the GELU. */
  readonly y: Tensor<'f32', readonly [2, 5, 8]>;
  readonly h: Tensor<'f32', readonly [2, 5, 32]>;
}

/** The input the example uses: x[b, l, c] = sin(b * 40 + l * 8 + c) / 2. */
export function exampleInput(): Tensor<'f32', readonly [2, 5, 8]> {
  return tensor('f32', [2, 5, 8], Array.from({ length: 80 }, (_, i) => Math.sin(i) / 2));
}

export async function runMlp(weights: string, backend: 'interp' | 'webgpu' = 'interp'): Promise<MlpResults> {
  const mlp = await load(weights, { backend });
  try {
    const x = exampleInput();
    // B and L are inferred as 2 and 5 from x's shape, so `out` is typed [2, 5, 8].
    const { out } = await mlp.forward({ x });
    const { y, h } = await mlp.forward_with_hidden({ x });
    return { out, y, h };
  } finally {
    await mlp.release();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [weights, backend = 'interp'] = process.argv.slice(2);
  if (!weights || (backend !== 'interp' && backend !== 'webgpu')) {
    console.error('usage: npx tsx examples/gelu_mlp_use.ts WEIGHTS.safetensors [interp|webgpu]');
    process.exit(2);
  }
  const { out, h } = await runMlp(weights, backend);
  console.log(`out: f32[${out.shape.join(', ')}], first values ${Array.from(out.data.slice(0, 4), (v) => v.toFixed(4)).join(', ')}`);
  console.log(`h:   f32[${h.shape.join(', ')}]`);
  await releaseDevice();
}
