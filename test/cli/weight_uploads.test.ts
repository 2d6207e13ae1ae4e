/**
 * The weight-upload progress lines (cli/weight_uploads.ts): one at every tenth of a large
 * load's bytes and at its end, with the rate after the first tensor; none for small loads.
 */
import { describe, expect, it } from 'vitest';
import { reportWeightUploads } from '../../cli/weight_uploads.ts';
import type { KilnDevice } from '../../runtime/device.ts';
import type { UploadProgress } from '../../runtime/gpu/weight-store.ts';

const MiB = 2 ** 20;

/** Drives the reporter with `sizes` uploaded one per simulated second. */
function lines(sizes: readonly number[], minBytes?: number): string[] {
  const weights: { onUpload?: (p: UploadProgress) => void } = {};
  const out: string[] = [];
  let clock = 0;
  const stop = reportWeightUploads({ weights } as unknown as KilnDevice, { log: (l) => out.push(l) }, minBytes, () => clock);
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  let doneBytes = 0;
  sizes.forEach((bytes, i) => {
    clock += 1000;
    doneBytes += bytes;
    weights.onUpload!({ key: `w${i}`, bytes, done: i + 1, total: sizes.length, doneBytes, totalBytes });
  });
  stop();
  expect(weights.onUpload).toBeUndefined();
  return out;
}

describe('weight upload progress', () => {
  it('prints a line at each tenth of a large load and at its end', () => {
    const out = lines(Array.from({ length: 40 }, () => 64 * MiB));
    expect(out).toHaveLength(10);
    expect(out[0]).toBe('weights: 256.0 MiB of 2.50 GiB on the GPU (4/40 tensors, 64.0 MiB/s)');
    expect(out.at(-1)).toBe('weights: 2.50 GiB of 2.50 GiB on the GPU (40/40 tensors, 64.0 MiB/s)');
  });

  it('says nothing about loads under the threshold', () => {
    expect(lines([100 * MiB, 100 * MiB])).toEqual([]);
    expect(lines([100 * MiB, 100 * MiB], 100 * MiB)).toHaveLength(2);
  });
});
