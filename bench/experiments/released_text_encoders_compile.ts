/**
 * What HunyuanVideo-I2V's released text encoders ask of a GPU, without one: LLaVA
 * (xtuner/llava-llama-3-8b-v1_1) encoding one prompt of 359 tokens with its image (934 merged
 * positions, hidden_states[-3]) and CLIP-L's text model on 77 tokens, compiled for
 * DISCRETE_GPU_TARGET. Prints kernels by kind, the planned peak and the weights' share.
 *
 *   npx tsx bench/experiments/released_text_encoders_compile.ts [--dtype f16|f32]
 */
import { parseArgs } from 'node:util';
import { bindModule, tensorArg } from '../../compiler/bind.ts';
import { compile } from '../../compiler/compile.ts';
import type { CompiledProgram } from '../../compiler/kernel.ts';
import { DISCRETE_GPU_TARGET } from '../../compiler/target.ts';
import { CLIP_L_TEXT_CONFIG, clipTextForwardShapes, clipTextProgram } from '../../models/clip_text/text_encoder.ts';
import { imagePatches, LLAVA_LLAMA3_8B_V1_1_CONFIG as C, llavaModuleConfig, llavaProgram, visionAfter } from '../../models/llava/llava.ts';

const { values } = parseArgs({ options: { dtype: { type: 'string', default: 'f16' } } });
const storage = values.dtype === 'f32' ? 'f32' : 'f16';
const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;

function report(what: string, p: CompiledProgram, seconds: number): void {
  const kinds = new Map<string, number>();
  for (const k of p.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  console.log(`${what}, ${storage} storage: ${p.kernels.length} kernels (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), planned peak ${gib(p.plan.peakBytes)} of which weights ${gib(p.plan.weightBytes)}; compiled in ${seconds.toFixed(1)} s`);
}

const L = 359;
const M = L - 1 + imagePatches(C);
const head = C.text.hidden_size / C.text.num_attention_heads;
let t0 = performance.now();
const llava = bindModule(llavaProgram(), 'LlavaForConditionalGeneration', llavaModuleConfig(C)).trace({
  fn: 'hidden_state',
  args: [tensorArg('input_ids', [1, L], 'i32'), tensorArg('attention_mask', [1, L], 'i32'), tensorArg('pixel_values', [1, 3, 336, 336]),
    tensorArg('cos', [1, M, head]), tensorArg('sin', [1, M, head]), { kind: 'value', value: 5 }, { kind: 'value', value: visionAfter(C) },
    { kind: 'value', value: C.text.num_hidden_layers - 2 }],
});
report(`LLaVA, one prompt of ${L} tokens with its image (${M} positions), hidden_states[-3]`, compile(llava, DISCRETE_GPU_TARGET, { storage }), (performance.now() - t0) / 1000);
t0 = performance.now();
const clip = bindModule(clipTextProgram(), 'CLIPTextModel', { ...CLIP_L_TEXT_CONFIG }).trace({ fn: 'forward', args: clipTextForwardShapes(1, 77) });
report('CLIP-L text model, 77 tokens', compile(clip, DISCRETE_GPU_TARGET, { storage }), (performance.now() - t0) / 1000);
