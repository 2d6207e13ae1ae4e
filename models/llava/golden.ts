/**
 * Golden adapter for the Llama decoder: LlamaForCausalLM's constructor kwargs are a LlamaConfig;
 * each `hidden_state` call asks for transformers' hidden_states[after] for input_ids, an
 * attention_mask and (optionally) position_ids.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCase } from '../golden/case.ts';
import { LlamaConfigError, llamaConfigFromJson, LlamaDecoder } from './llama.ts';

function inputTensor(c: GoldenCase, kwargs: Readonly<Record<string, unknown>>, key: string): HostTensor | undefined {
  const v = kwargs[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !v.startsWith('input.')) throw new UnsupportedGoldenError(`${c.path}: ${key} ${JSON.stringify(v)} is not an input tensor`);
  return c.tensor(v);
}

const llamaAdapter: GoldenAdapter = {
  classNames: ['LlamaForCausalLM'],
  async run(c, ctx) {
    let config;
    try {
      config = llamaConfigFromJson(c.constructorConfig, `${c.path}: the constructor config`);
    } catch (err) {
      if (err instanceof LlamaConfigError) throw new UnsupportedGoldenError(err.message);
      throw err;
    }
    const decoder = new LlamaDecoder(config, c.weights(), ctx.session);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if (call.method !== 'hidden_state') throw new UnsupportedGoldenError(`${c.path}: LlamaForCausalLM.${call.method} is not supported (hidden_state only)`);
      const kw = call.kwargs ?? {};
      const ids = inputTensor(c, kw, 'input_ids');
      const mask = inputTensor(c, kw, 'attention_mask');
      const positions = inputTensor(c, kw, 'position_ids');
      if (!ids || !mask || typeof kw.after !== 'number') throw new UnsupportedGoldenError(`${c.path}: hidden_state needs input_ids, attention_mask and a number 'after'`);
      const name = /output\.([A-Za-z0-9_]+)/.exec(call.returns ?? '')?.[1];
      if (!name) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output hidden_state returns from "${call.returns}"`);
      const y = await decoder.hiddenState(ids, mask, kw.after, positions && Int32Array.from(positions.data as ArrayLike<number | bigint>, Number));
      out.set(name, y);
      ctx.log(`hidden_state(after ${kw.after}) → ${name} [${y.shape.join(', ')}]`);
    }
    return out;
  },
};

export const LLAVA_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [llamaAdapter];
