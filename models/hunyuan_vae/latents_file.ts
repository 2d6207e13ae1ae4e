/**
 * Latents files: what `kiln vae encode` writes and `kiln vae decode` reads. A `.safetensors`
 * file with one F32 tensor `latents` of shape [1, C, n, h, w] and string metadata:
 *   format          "kiln.vae-latents.v1"
 *   scaled          "true" when the latents were multiplied by scaling_factor (the diffusion
 *                   model's latent space, as HunyuanVideo's pipeline feeds its transformer);
 *                   "false" when they are the VAE's own (the posterior as it comes out).
 *   scaling_factor  the config's factor (for `scaled` latents, decode divides by it first)
 *   posterior       "mode" (the mean) or "sample" (mean + std·ε), with `seed` for a sample
 *   vae_config      the VaeConfig as JSON; `weights`: what weights made them
 *   source          JSON {path, kind, width, height, frames, fps?, changes[]}: the input media
 * Files from elsewhere are accepted too: the tensor named `latents`, or the only tensor; without
 * `scaled` metadata the latents are taken as unscaled unless the caller says otherwise.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import type { HostTensor } from '../../runtime/tensor.ts';
import { openSafetensors } from '../../runtime/weights/safetensors.ts';
import { writeSafetensors } from '../../runtime/weights/safetensors.ts';
import type { VaeConfig } from './autoencoder.ts';

export const LATENTS_FORMAT = 'kiln.vae-latents.v1';

/** A latents file that cannot be used, with what was expected. */
export class LatentsFileError extends Error {
  override name = 'LatentsFileError';
  readonly userFacing = true;
}

export interface LatentsSource {
  readonly path: string;
  readonly kind: string;
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  readonly fps?: number;
  /** What was done to fit the VAE (trim, crop, ...). */
  readonly changes: readonly string[];
}

export interface LatentsMeta {
  readonly scaled: boolean;
  readonly scalingFactor: number;
  readonly posterior: 'mode' | 'sample';
  readonly seed?: number;
  readonly config: VaeConfig;
  readonly weights: string;
  readonly source?: LatentsSource;
}

/** Throws LatentsFileError unless `path` can become a latents file (checked before any work). */
export function checkLatentsOutput(path: string): void {
  if (extname(path).toLowerCase() !== '.safetensors') {
    throw new LatentsFileError(`latents are written as safetensors: name the output *.safetensors (got ${path}).`);
  }
  const existing = statOrNull(path);
  if (existing?.isDirectory()) throw new LatentsFileError(`cannot write ${path}: a folder with that name exists. Choose another output name.`);
  const problem = creatableProblem(path);
  if (problem) throw new LatentsFileError(problem);
}

/** Why `path` cannot be created (its nearest existing ancestor is a file), or undefined. */
export function creatableProblem(path: string): string | undefined {
  let dir = dirname(path);
  for (;;) {
    const st = statOrNull(dir);
    if (st) return st.isDirectory() ? undefined : `cannot write ${path}: ${dir} is a file, not a folder.`;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function statOrNull(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** Writes latents with their metadata, atomically (a temporary file renamed when complete). */
export function writeLatentsFile(path: string, latents: HostTensor, meta: LatentsMeta): void {
  checkLatentsOutput(path);
  mkdirSync(dirname(path), { recursive: true });
  const metadata: Record<string, string> = {
    format: LATENTS_FORMAT,
    scaled: String(meta.scaled),
    scaling_factor: String(meta.scalingFactor),
    posterior: meta.posterior,
    vae_config: JSON.stringify(meta.config),
    weights: meta.weights,
  };
  if (meta.seed !== undefined) metadata.seed = String(meta.seed);
  if (meta.source) metadata.source = JSON.stringify(meta.source);
  writeSafetensors(path, { latents }, metadata);
}

export interface ReadLatents {
  readonly latents: HostTensor;
  /** The tensor's name in the file. */
  readonly name: string;
  /** Metadata fields that were present and well-formed. */
  readonly scaled?: boolean;
  readonly scalingFactor?: number;
  readonly config?: Partial<VaeConfig>;
  readonly source?: Partial<LatentsSource>;
  readonly format?: string;
}

/** Reads a latents file (see the file header): the tensor and whatever metadata it carries. */
export function readLatentsFile(path: string): ReadLatents {
  const file = openSafetensors(path);
  try {
    const names = file.names;
    const name = names.includes('latents') ? 'latents' : names.length === 1 ? names[0] : undefined;
    if (name === undefined) {
      throw new LatentsFileError(`${path} holds ${names.length} tensors (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}) and none is named "latents"; ` +
        'kiln vae decode reads a tensor named "latents" or a file with a single tensor.');
    }
    const latents = file.read(name);
    const m = file.metadata;
    const json = <T>(s: string | undefined): T | undefined => {
      if (s === undefined) return undefined;
      try { return JSON.parse(s) as T; } catch { return undefined; }
    };
    const factor = m.scaling_factor !== undefined ? Number(m.scaling_factor) : undefined;
    return {
      latents,
      name,
      scaled: m.scaled === 'true' ? true : m.scaled === 'false' ? false : undefined,
      scalingFactor: factor !== undefined && Number.isFinite(factor) && factor > 0 ? factor : undefined,
      config: json<Partial<VaeConfig>>(m.vae_config),
      source: json<Partial<LatentsSource>>(m.source),
      format: m.format,
    };
  } finally {
    file.close();
  }
}
