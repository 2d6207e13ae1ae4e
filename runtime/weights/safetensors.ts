/**
 * The safetensors API in one place: reading (safetensors_read.ts, header validation in
 * safetensors_header.ts), writing (safetensors_write.ts) and sharded checkpoints
 * (`openCheckpoint`: a file, a `*.safetensors.index.json`, or a folder holding either).
 */
export { openSafetensors, readSafetensorsBytes, type SafetensorsFile } from './safetensors_read.ts';
export { MAX_HEADER_BYTES, parseSafetensorsHeader, type ByteRange, type SafetensorsEntry, type SafetensorsHeader } from './safetensors_header.ts';
export {
  encodeSafetensors, planSafetensors, writeSafetensors, writeSafetensorsStreaming,
  type PlacedTensor, type SafetensorsLayout, type TensorMap, type TensorSpec,
} from './safetensors_write.ts';
export { openCheckpoint } from './checkpoint.ts';
export { SafetensorsError } from './errors.ts';
