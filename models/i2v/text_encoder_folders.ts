/**
 * The released text encoders from their transformers folders (HunyuanVideo-I2V's
 * ckpts/text_encoder_i2v and ckpts/text_encoder_2): each holds config.json, its weights (one
 * file or shards with an index) and tokenizer.json with tokenizer_config.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionOptions } from '../../runtime/model.ts';
import { loadWeights } from '../../runtime/weights/checkpoint.ts';
import { ClipTextConfigError, clipTextConfigFromJson, ClipTextEncoder } from '../clip_text/text_encoder.ts';
import { PromptTokenizer } from '../common/prompt_tokenizer.ts';
import { LlavaConfigError, llavaConfigFromJson, LlavaEncoder } from '../llava/llava.ts';
import { I2vPromptEncoder, VIDEO_I2V_TEMPLATE, type I2vPromptEncoderOptions, type LlavaPromptTemplate } from './prompt_encoder.ts';

export class TextEncoderFolderError extends Error {
  readonly userFacing = true;
  override name = 'TextEncoderFolderError';
}

function readConfig(dir: string): unknown {
  const path = join(dir, 'config.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TextEncoderFolderError(`${path}: ${(e as Error).message} (a text encoder folder holds transformers' config.json, weights and tokenizer files)`);
  }
}

/**
 * LLaVA from `llavaDir`, CLIP's text model from `clipDir`; `close` releases their weight files.
 * The template is upstream's for Llama-3's tokenizer unless another is given.
 */
export function openPromptEncoder(llavaDir: string, clipDir: string, session: SessionOptions, opts: I2vPromptEncoderOptions & { template?: LlavaPromptTemplate } = {}): { encoder: I2vPromptEncoder; close: () => void } {
  let llavaConfig;
  let clipConfig;
  try {
    llavaConfig = llavaConfigFromJson(readConfig(llavaDir), join(llavaDir, 'config.json'));
    clipConfig = clipTextConfigFromJson(readConfig(clipDir), join(clipDir, 'config.json'));
  } catch (e) {
    if (e instanceof LlavaConfigError || e instanceof ClipTextConfigError) throw new TextEncoderFolderError(e.message);
    throw e;
  }
  const llavaTokenizer = PromptTokenizer.fromFolder(llavaDir);
  const imageId = llavaTokenizer.tokenizer.token_to_id('<image>');
  if (imageId !== llavaConfig.image_token_index) {
    throw new TextEncoderFolderError(`${llavaDir}: the tokenizer's <image> is ${imageId ?? 'missing'}, but config.json's image_token_index is ${llavaConfig.image_token_index}`);
  }
  const clipTokenizer = PromptTokenizer.fromFolder(clipDir);
  const llavaWeights = loadWeights(llavaDir);
  let clipWeights;
  try {
    clipWeights = loadWeights(clipDir);
  } catch (e) {
    llavaWeights.close();
    throw e;
  }
  const encoder = new I2vPromptEncoder({
    llava: new LlavaEncoder(llavaConfig, llavaWeights, session), llavaTokenizer,
    clip: new ClipTextEncoder(clipConfig, clipWeights, session), clipTokenizer,
    template: opts.template ?? VIDEO_I2V_TEMPLATE,
  }, opts);
  return { encoder, close: () => { llavaWeights.close(); clipWeights.close(); } };
}
