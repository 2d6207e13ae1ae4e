/** Every upstream class Kiln can run golden cases of, by name. */
import type { GoldenAdapter } from './adapter.ts';
import { CLIP_TEXT_GOLDEN_ADAPTERS } from '../clip_text/golden.ts';
import { DIT_GOLDEN_ADAPTERS } from '../hunyuan_dit/golden.ts';
import { FLOW_MATCH_GOLDEN_ADAPTERS } from '../flow_match/golden.ts';
import { I2V_GOLDEN_ADAPTERS } from '../i2v/golden.ts';
import { LLAVA_GOLDEN_ADAPTERS } from '../llava/golden.ts';
import { VAE_GOLDEN_ADAPTERS } from '../hunyuan_vae/golden.ts';

const ADAPTERS: readonly GoldenAdapter[] = [...VAE_GOLDEN_ADAPTERS, ...FLOW_MATCH_GOLDEN_ADAPTERS, ...DIT_GOLDEN_ADAPTERS, ...I2V_GOLDEN_ADAPTERS, ...CLIP_TEXT_GOLDEN_ADAPTERS, ...LLAVA_GOLDEN_ADAPTERS];

export function findAdapter(className: string): GoldenAdapter | undefined {
  return ADAPTERS.find((a) => a.classNames.includes(className));
}

export function supportedClasses(): string[] {
  return ADAPTERS.flatMap((a) => a.classNames);
}
