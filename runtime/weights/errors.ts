/**
 * Errors a user can cause by handing Kiln a bad or unsupported weights file. Every class here
 * is `userFacing` (see cli/errors.ts): its message names the file, the tensor or entry, what was
 * found, what was expected and how to fix it, so the CLI prints it without a stack trace.
 */

/** Base class of every user-facing weights error. */
export class WeightsError extends Error {
  readonly userFacing = true;
  override name = 'WeightsError';
}

/** A `.safetensors` file whose header or data does not follow the format. */
export class SafetensorsError extends WeightsError {
  override name = 'SafetensorsError';
}

/** A checkpoint path, folder or shard index that cannot be resolved, or a key it lacks. */
export class CheckpointError extends WeightsError {
  override name = 'CheckpointError';
}

/** A zip archive that is damaged or uses a feature the STORED-only reader refuses. */
export class ZipFormatError extends WeightsError {
  override name = 'ZipFormatError';
}

/** A PyTorch checkpoint whose pickle or tensor records are malformed or unsupported. */
export class PytorchCheckpointError extends WeightsError {
  override name = 'PytorchCheckpointError';
}

/** A pickle that asks for a Python global outside the tensor-only allowlist. */
export class PickleSecurityError extends WeightsError {
  override name = 'PickleSecurityError';
}
