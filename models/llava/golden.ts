/**
 * Golden adapters for LLaVA's parts. LlamaForCausalLM: its constructor kwargs are a
 * LlamaConfig; each `hidden_state` call asks for transformers' hidden_states[after] for
 * input_ids, an attention_mask and (optionally) position_ids. LlavaForConditionalGeneration: a
 * LlavaConfig; `image_features` of pixel_values, and `hidden_state` of a prompt with its image
 * (the merged attention mask as the call's aux output).
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { configOrUnsupported, returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { LlamaConfigError, llamaConfigFromJson, LlamaDecoder } from './llama.ts';
import { LlavaConfigError, llavaConfigFromJson, LlavaEncoder } from './llava.ts';

function inputTensor(c: GoldenCase, kwargs: Readonly<Record<string, unknown>>, key: string): HostTensor | undefined {
  const v = kwargs[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !v.startsWith('input.')) throw new UnsupportedGoldenError(`${c.path}: ${key} ${JSON.stringify(v)} is not an input tensor`);
  return c.tensor(v);
}

const llamaAdapter: GoldenAdapter = {
  classNames: ['LlamaForCausalLM'],
  async run(c, ctx) {
    const config = configOrUnsupported(() => llamaConfigFromJson(c.constructorConfig, `${c.path}: the constructor config`), LlamaConfigError);
    const decoder = new LlamaDecoder(config, c.weights(), ctx.session);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if (call.method !== 'hidden_state') throw new UnsupportedGoldenError(`${c.path}: LlamaForCausalLM.${call.method} is not supported (hidden_state only)`);
      const kw = call.kwargs ?? {};
      const ids = inputTensor(c, kw, 'input_ids');
      const mask = inputTensor(c, kw, 'attention_mask');
      const positions = inputTensor(c, kw, 'position_ids');
      if (!ids || !mask || typeof kw.after !== 'number') throw new UnsupportedGoldenError(`${c.path}: hidden_state needs input_ids, attention_mask and a number 'after'`);
      const name = returned(c, call, 'hidden_state');
      const y = await decoder.hiddenState(ids, mask, kw.after, positions && Int32Array.from(positions.data as ArrayLike<number | bigint>, Number));
      out.set(name, y);
      ctx.log(`hidden_state(after ${kw.after}) → ${name} [${y.shape.join(', ')}]`);
    }
    return out;
  },
};

/** The one output a call returns (its `returns` text; returnedOutputs reads it). */
function returned(c: GoldenCase, call: GoldenCall, method: string): string {
  const [name] = returnedOutputs({ returns: call.returns }).names;
  if (!name) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output ${method} returns from "${call.returns}"`);
  return name;
}

const llavaAdapter: GoldenAdapter = {
  classNames: ['LlavaForConditionalGeneration'],
  async run(c, ctx) {
    const config = configOrUnsupported(() => llavaConfigFromJson(c.constructorConfig, `${c.path}: the constructor config`), LlavaConfigError);
    const encoder = new LlavaEncoder(config, c.weights(), ctx.session);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      const kw = call.kwargs ?? {};
      const pixels = inputTensor(c, kw, 'pixel_values');
      if (!pixels) throw new UnsupportedGoldenError(`${c.path}: ${call.method} needs pixel_values`);
      if (call.method === 'image_features') {
        const name = returned(c, call, 'image_features');
        out.set(name, await encoder.imageFeatures(pixels));
        continue;
      }
      if (call.method !== 'hidden_state') throw new UnsupportedGoldenError(`${c.path}: LlavaForConditionalGeneration.${call.method} is not supported (image_features, hidden_state)`);
      const ids = inputTensor(c, kw, 'input_ids');
      const mask = inputTensor(c, kw, 'attention_mask');
      if (!ids || !mask || typeof kw.after !== 'number') throw new UnsupportedGoldenError(`${c.path}: hidden_state needs input_ids, attention_mask, pixel_values and a number 'after'`);
      const r = await encoder.hiddenState(ids, mask, pixels, kw.after);
      out.set(returned(c, call, 'hidden_state'), r.hiddenState);
      const [aux] = returnedOutputs({ returns: typeof call.aux === 'string' ? call.aux : undefined }).names;
      if (aux) out.set(aux, r.attentionMask);
      ctx.log(`hidden_state(after ${kw.after}) → [${r.hiddenState.shape.join(', ')}], image at ${r.imagePosition}`);
    }
    return out;
  },
};

export const LLAVA_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [llamaAdapter, llavaAdapter];
