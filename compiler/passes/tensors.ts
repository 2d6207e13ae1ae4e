/**
 * Tensor assignment: every materialised node gets a tensor (TensorInfo of kernel.ts): inputs
 * in call order, then weights, then outputs in graph order, then intermediates in kernel
 * order. Aliased nodes (a graph output that is a reshape of an intermediate) share their
 * target's tensor, which takes the output's role and name; packed row results share one
 * tensor with a trailing axis of their count (passes/pack_row_results.ts).
 *
 * Limits: every node's element count must be below 2^32 (u32 indexing) and every tensor must
 * fit one storage binding and one buffer; violations are CompileErrors that name the tensor's
 * origin, shape and size and suggest tiling.
 */
import type { Node } from '../ir.ts';
import { numel, storageBytes } from '../ir.ts';
import type { TensorInfo, TensorRole } from '../kernel.ts';
import type { Target } from '../target.ts';
import { CompileError, describeOrigin, formatBytes } from './errors.ts';
import { type Schedule, groupOutputs } from './schedule.ts';

export interface TensorAssignment {
  readonly tensors: readonly TensorInfo[];
  /** Stored node id -> tensor id (aliases resolved). */
  readonly tensorOfNode: ReadonlyMap<number, number>;
  /** Output index -> tensor id. */
  readonly outputTensors: readonly number[];
  readonly inputs: readonly number[];
  readonly weights: readonly number[];
}

export const tensorBytes = (shape: readonly number[], dtype: Node['dtype']): number =>
  Math.max(4, Math.ceil((numel(shape) * storageBytes(dtype)) / 4) * 4);

const label = (n: Node): string => `${n.origin.op}${n.origin.path ? `@${n.origin.path}` : ''}#${n.id}`;

export function assignTensors(s: Schedule): TensorAssignment {
  const tensors: TensorInfo[] = [];
  const tensorOfNode = new Map<number, number>();
  const add = (role: TensorRole, name: string, shape: readonly number[], dtype: Node['dtype']): number => {
    const id = tensors.length;
    tensors.push({ id, role, name, shape: [...shape], dtype, bytes: tensorBytes(shape, dtype) });
    return id;
  };
  const inputs: number[] = [];
  const weights: number[] = [];
  for (const n of s.graph.inputs) {
    const id = add(n.kind, n.name, n.shape, n.dtype);
    (n.kind === 'input' ? inputs : weights).push(id);
    tensorOfNode.set(n.id, id);
  }
  const copies = new Set<number>();
  for (const g of s.groups) if (g.kind === 'elementwise' && g.outputIndex !== undefined) copies.add(g.outputIndex);
  const outputTensors = s.graph.outputs.map((o, k) => {
    const id = add('output', o.name, o.node.shape, o.node.dtype);
    if (!copies.has(k)) {
      tensorOfNode.set(o.node.id, id);
      const target = s.aliases.get(o.node.id);
      if (target !== undefined) tensorOfNode.set(target, id);
    }
    return id;
  });
  for (const g of s.groups) {
    for (const n of groupOutputs(g)) {
      if (tensorOfNode.has(n.id)) continue;
      const pack = s.packs.get(n.id);
      if (!pack) { tensorOfNode.set(n.id, add('intermediate', label(n), n.shape, n.dtype)); continue; }
      // Packed results share the head's tensor: one row of `slots` values per element.
      let t = tensorOfNode.get(pack.head);
      if (t === undefined) {
        t = add('intermediate', `${label(n)}+${pack.slots - 1}`, [...n.shape, pack.slots], n.dtype);
        tensorOfNode.set(pack.head, t);
      }
      tensorOfNode.set(n.id, t);
    }
  }
  for (const [alias, target] of s.aliases) {
    const t = tensorOfNode.get(target) ?? tensorOfNode.get(alias);
    if (t !== undefined) { tensorOfNode.set(alias, t); tensorOfNode.set(target, t); }
  }
  return { tensors, tensorOfNode, outputTensors, inputs, weights };
}

const U32 = 2 ** 32;

/** What to do about an activation too large for one binding or for 32-bit indexing. */
export const ACTIVATION_ADVICE = 'Use smaller inputs, or split the work into tiles where the model can (the VAE decodes in tiles: `kiln vae decode --tile`)';

/**
 * What to do about an activation too large for one binding: f16 storage first, when it would
 * fit (intermediates only: inputs and outputs stay f32 whatever the storage).
 */
function activationAdvice(t: TensorInfo, limit: number, target: Target): string {
  const halfFits = t.role === 'intermediate' && t.dtype === 'f32' && target.features.shaderF16 && t.bytes / 2 <= limit;
  return halfFits ? `Stored as f16 (\`--dtype f16\`) it would take ${formatBytes(t.bytes / 2)}, which fits; or: ${ACTIVATION_ADVICE.replace(/^U/, 'u')}` : ACTIVATION_ADVICE;
}

/** What to do about a weight too large for one binding: it cannot be tiled, only stored smaller or bound on a larger device. */
function weightAdvice(dtype: string, target: Target): string {
  const half = dtype === 'f32' && target.features.shaderF16 ? 'store the weights as f16 (`--dtype f16`, half the bytes), or ' : '';
  return `A weight is bound whole: ${half}run on a device whose maxStorageBufferBindingSize holds it (GPUs allow several GiB; \`kiln devices\` lists each adapter's limits, \`kiln compile --device\` compiles for this machine's)`;
}

/**
 * Nodes that exist only inside an attention kernel's score computation: its internal nodes, and
 * unstored nodes whose every user is one of them (a mask broadcast to [B, H, L, L]). The flash
 * kernel evaluates them at (query, key) coordinates, never as whole L × L tensors, so their
 * element count may pass 2^32; every index codegen does emit is range-checked (IndexRangeError).
 */
function attentionScoreNodes(s: Schedule, a: TensorAssignment): Set<number> {
  const inside = new Set<number>();
  for (const g of s.groups) if (g.kind === 'attention') for (const n of g.att.internal) inside.add(n.id);
  if (inside.size === 0) return inside;
  for (let i = s.order.length - 1; i >= 0; i--) {
    const n = s.order[i];
    if (inside.has(n.id) || a.tensorOfNode.has(n.id)) continue;
    const users = s.users.get(n.id) ?? [];
    if (users.length > 0 && users.every((u) => inside.has(u.id))) inside.add(n.id);
  }
  return inside;
}

/** Throws a CompileError for the first node or tensor that exceeds the target's limits. */
export function checkLimits(s: Schedule, a: TensorAssignment, target: Target): void {
  const half = a.tensors.find((t) => t.dtype === 'f16');
  if (half && !target.features.shaderF16) {
    throw new CompileError(
      `${half.role} ${JSON.stringify(half.name)} is f16, but this device has no 'shader-f16' feature, so its kernels cannot read or write ` +
      'f16 buffers. Run the model in f32 (convert the weights to f32), or use a device that supports shader-f16.');
  }
  const scoresOnly = attentionScoreNodes(s, a);
  for (const n of s.order) {
    const count = numel(n.shape);
    if (count >= U32 && !scoresOnly.has(n.id)) {
      throw new CompileError(
        `${describeOrigin(n)} produces a tensor of shape [${n.shape.join(', ')}] with ${count.toLocaleString('en-US')} elements; ` +
        `Kiln indexes tensors with 32-bit integers, so a tensor must have fewer than 2^32 elements. ` +
        `${ACTIVATION_ADVICE}.`);
    }
  }
  const limit = Math.min(target.limits.maxStorageBufferBindingSize, target.limits.maxBufferSize);
  // Name a tensor by the op that computes it: an epilogue's anchor says more than its last add.
  const nodeOf = new Map<number, Node>();
  for (const g of s.groups) {
    const ends = g.kind === 'reduction' ? g.chain : g.kind === 'elementwise' ? [] : [g.epi];
    for (const e of ends) {
      const t = a.tensorOfNode.get(e.end.id);
      if (t !== undefined && !nodeOf.has(t)) nodeOf.set(t, e.anchor);
    }
  }
  for (const n of s.order) {
    const t = a.tensorOfNode.get(n.id);
    if (t !== undefined && !nodeOf.has(t)) nodeOf.set(t, n);
  }
  for (const t of a.tensors) {
    if (t.bytes <= limit) continue;
    const n = nodeOf.get(t.id);
    // A weight is named by its key; the node it maps to is whichever kernel reads it.
    const what = n && t.role !== 'weight' ? `the result of ${describeOrigin(n)} (${t.role} ${JSON.stringify(t.name)})` : `${t.role} ${JSON.stringify(t.name)}`;
    throw new CompileError(
      `${what} needs a tensor of shape [${t.shape.join(', ')}] (${t.dtype}), ${t.bytes.toLocaleString('en-US')} bytes (${formatBytes(t.bytes)}), ` +
      `but this device binds at most ${limit.toLocaleString('en-US')} bytes (${formatBytes(limit)}) per buffer ` +
      `(maxStorageBufferBindingSize ${target.limits.maxStorageBufferBindingSize}, maxBufferSize ${target.limits.maxBufferSize}). ` +
      `${t.role === 'weight' ? weightAdvice(t.dtype, target) : activationAdvice(t, limit, target)}.`);
  }
}
