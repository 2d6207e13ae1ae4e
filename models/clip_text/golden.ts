/**
 * Golden adapter for transformers' CLIPTextModel: the constructor kwargs are a CLIPTextConfig,
 * forward takes input_ids and an attention_mask and returns the final states and the pooled
 * end-of-text state.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { callInputs, configOrUnsupported, returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import { ClipTextConfigError, clipTextConfigFromJson, ClipTextEncoder } from './text_encoder.ts';

const clipTextAdapter: GoldenAdapter = {
  classNames: ['CLIPTextModel'],
  async run(c, ctx) {
    const config = configOrUnsupported(() => clipTextConfigFromJson(c.constructorConfig, `${c.path}: the constructor config`), ClipTextConfigError);
    const encoder = new ClipTextEncoder(config, c.weights(), ctx.session);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if ((call.method ?? 'forward') !== 'forward') throw new UnsupportedGoldenError(`${c.path}: CLIPTextModel.${call.method} is not supported (forward only)`);
      const [ids, positionalMask] = callInputs(c, call);
      const maskName = call.kwargs?.attention_mask;
      const mask = positionalMask ?? (typeof maskName === 'string' ? c.tensor(maskName) : undefined);
      if (!ids || !mask) throw new UnsupportedGoldenError(`${c.path}: forward needs input_ids and an attention_mask`);
      const r = await encoder.encode(ids, mask);
      const names = returnedOutputs(call).names;
      const produced: Record<string, HostTensor> = { last_hidden_state: r.lastHiddenState, pooler_output: r.pooled };
      for (const name of names) {
        const t = produced[name];
        if (!t) throw new UnsupportedGoldenError(`${c.path}: forward returns no '${name}' (it gives last_hidden_state and pooler_output)`);
        out.set(name, t);
      }
      ctx.log(`forward → ${names.join(', ')}`);
    }
    return out;
  },
};

export const CLIP_TEXT_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [clipTextAdapter];
