/** Every upstream class Kiln can run golden cases of, by name. */
import type { GoldenAdapter } from './adapter.ts';
import { VAE_GOLDEN_ADAPTERS } from '../hunyuan_vae/golden.ts';

const ADAPTERS: readonly GoldenAdapter[] = [...VAE_GOLDEN_ADAPTERS];

export function findAdapter(className: string): GoldenAdapter | undefined {
  return ADAPTERS.find((a) => a.classNames.includes(className));
}

export function supportedClasses(): string[] {
  return ADAPTERS.flatMap((a) => a.classNames);
}
