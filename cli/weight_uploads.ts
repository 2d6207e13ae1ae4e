/**
 * Progress lines for weight uploads. A model's weights go to the GPU when its first call reads
 * them, inside a stage whose own progress stands still meanwhile (the first denoising step, the
 * prompt encoding): a released checkpoint's tens of GiB take minutes to read and upload. Loads
 * of at least `minBytes` print a line at every tenth of their bytes, with the rate so far.
 */
import type { KilnDevice } from '../runtime/device.ts';
import { formatBytes } from '../runtime/gpu/errors.ts';
import type { UploadProgress } from '../runtime/gpu/weight-store.ts';
import type { Progress } from './progress.ts';

const DEFAULT_MIN_BYTES = 256 * 2 ** 20;

/**
 * A handler for one device's upload progress that logs through `progress` (with `label` in front,
 * for one of several devices).
 */
export function uploadReporter(progress: Pick<Progress, 'log'>, opts: { minBytes?: number; now?: () => number; label?: string } = {}): (p: UploadProgress) => void {
  const minBytes = opts.minBytes ?? DEFAULT_MIN_BYTES;
  const now = opts.now ?? (() => performance.now());
  let [started, firstBytes, nextTenth] = [0, 0, 1];
  return (p) => {
    if (p.totalBytes < minBytes) return;
    // The clock starts when the first tensor is up, so the rate counts the bytes after it.
    if (p.done === 1) [started, firstBytes, nextTenth] = [now(), p.bytes, 1];
    const tenths = Math.floor((10 * p.doneBytes) / p.totalBytes);
    if (tenths < nextTenth && p.done < p.total) return;
    nextTenth = tenths + 1;
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? `, ${formatBytes((p.doneBytes - firstBytes) / seconds)}/s` : '';
    progress.log(`${opts.label ? `${opts.label}: ` : ''}weights: ${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)} on the GPU (${p.done}/${p.total} tensors${rate})`);
  };
}

/** Reports `device`'s weight uploads through `progress`; returns the function that stops it. */
export function reportWeightUploads(device: KilnDevice, progress: Pick<Progress, 'log'>, minBytes = DEFAULT_MIN_BYTES, now = () => performance.now()): () => void {
  device.weights.onUpload = uploadReporter(progress, { minBytes, now });
  return () => { device.weights.onUpload = undefined; };
}
