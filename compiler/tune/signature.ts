/**
 * Kernel signatures: the key under which the autotuner stores a tile choice, together with
 * the adapter (cache.ts). A signature names the kernel's *shape class*: the anchor op and the
 * sizes that decide which tiles fit — channels, kernel taps, strides, the contracted length,
 * the output row length (a convolution's register tile runs along it) — exactly, and the
 * number of output positions (or rows, or queries) rounded to the nearest power of two, so
 * that nearby sizes (tiles of a tiled decode, frames) share one tuning run. The storage mode
 * is part of it: f16 buffers change what is fastest.
 *
 * Examples:
 *   conv3d cin128 cout128 k3x3x3 s1x1x1 row64 m~16384 wlast f32   (wlast: channels-last weights)
 *   matmul b~1 m~1024 k512 n512 f32
 *   reduce rows~32 len~65536 chain2 f32
 *   attention b~1 lq~1024 lk1024 d512 dv512 f32
 */
import type { ConvNode, ReduceNode } from '../ir.ts';
import { numel } from '../ir.ts';
import type { KernelGroup } from '../passes/schedule.ts';
import type { StorageMode } from '../passes/storage.ts';

/** The power of two nearest to n (in log scale); 1 for n <= 1. */
export function sizeBucket(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.round(Math.log2(n));
}

/** The signature of a tunable kernel (contraction, reduction, attention); undefined for elementwise kernels. */
export function kernelSignature(g: KernelGroup, storage: StorageMode): string | undefined {
  switch (g.kind) {
    case 'elementwise': return undefined;
    case 'conv': {
      const conv = g.epi.anchor as ConvNode;
      const [x, w] = conv.src;
      const nd = conv.shape.length - 2;
      const out = conv.shape.slice(2);
      const m = conv.shape[0] * numel(out);
      // Channels-last weights (a permuted weight operand) load differently: tuned apart.
      const layout = w.op === 'permute' ? ' wlast' : '';
      return `conv${nd}d cin${x.shape[1]} cout${conv.shape[1]} k${w.shape.slice(2).join('x')} s${conv.stride.join('x')} row${out[nd - 1]} m~${sizeBucket(m)}${layout} ${storage}`;
    }
    case 'matmul': {
      const mm = g.epi.anchor;
      const r = mm.shape.length;
      const batch = numel(mm.shape.slice(0, r - 2));
      return `matmul b~${sizeBucket(batch)} m~${sizeBucket(mm.shape[r - 2])} k${mm.src[0].shape[r - 1]} n${mm.shape[r - 1]} ${storage}`;
    }
    case 'reduction': {
      const first = g.chain[0].anchor as ReduceNode;
      const len = numel(first.axes.map((a) => first.src[0].shape[a]));
      return `reduce rows~${sizeBucket(numel(first.shape))} len~${sizeBucket(len)} chain${g.chain.length} ${storage}`;
    }
    case 'attention': {
      const { qk, q, v } = g.att;
      const r = qk.shape.length;
      const batch = numel(qk.shape.slice(0, r - 2));
      return `attention b~${sizeBucket(batch)} lq~${sizeBucket(qk.shape[r - 2])} lk${qk.shape[r - 1]} d${q.shape[r - 1]} dv${v.shape[r - 1]} ${storage}`;
    }
  }
}
