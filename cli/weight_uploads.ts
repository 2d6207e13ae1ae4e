/**
 * Progress lines for weight uploads. A model's weights go to the GPU when its first call reads
 * them, inside a stage whose own progress stands still meanwhile (the first denoising step, the
 * prompt encoding): a released checkpoint's tens of GiB take minutes to read and upload. Loads
 * of at least `minBytes` print a line at every tenth of their bytes, with the rate so far.
 */
import type { KilnDevice } from '../runtime/device.ts';
import { formatBytes } from '../runtime/gpu/errors.ts';
import type { Progress } from './progress.ts';

const DEFAULT_MIN_BYTES = 256 * 2 ** 20;

/** Reports `device`'s weight uploads through `progress`; returns the function that stops it. */
export function reportWeightUploads(device: KilnDevice, progress: Pick<Progress, 'log'>, minBytes = DEFAULT_MIN_BYTES, now = () => performance.now()): () => void {
  let [started, firstBytes, nextTenth] = [0, 0, 1];
  device.weights.onUpload = (p) => {
    if (p.totalBytes < minBytes) return;
    // The clock starts when the first tensor is up, so the rate counts the bytes after it.
    if (p.done === 1) [started, firstBytes, nextTenth] = [now(), p.bytes, 1];
    const tenths = Math.floor((10 * p.doneBytes) / p.totalBytes);
    if (tenths < nextTenth && p.done < p.total) return;
    nextTenth = tenths + 1;
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? `, ${formatBytes((p.doneBytes - firstBytes) / seconds)}/s` : '';
    progress.log(`weights: ${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)} on the GPU (${p.done}/${p.total} tensors${rate})`);
  };
  return () => { device.weights.onUpload = undefined; };
}
