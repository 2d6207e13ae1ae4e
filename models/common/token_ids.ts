/**
 * Token ids checked on the host before a text model runs: its embedding lookup clamps an id
 * outside the table into it on the GPU (WGSL cannot raise), so a wrong id would otherwise
 * give a silently wrong prompt.
 */
import type { HostTensor } from '../../runtime/tensor.ts';

/** Throws, naming the prompt and position, if any id of [B, L] is not in [0, vocabSize). */
export function checkTokenIds(inputIds: HostTensor, vocabSize: number): void {
  const l = inputIds.shape[inputIds.shape.length - 1];
  for (let i = 0; i < inputIds.data.length; i++) {
    const id = Number(inputIds.data[i]);
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`token id ${id} (prompt ${Math.floor(i / l)}, position ${i % l}) is outside the vocabulary of ${vocabSize}`);
    }
  }
}
