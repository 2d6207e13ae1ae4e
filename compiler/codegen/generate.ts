/**
 * Kernel generation for a whole schedule: names each group's kernel, dispatches to the
 * generator of its kind, and turns index-range failures into CompileErrors naming the kernel.
 */
import type { Node } from '../ir.ts';
import type { Kernel } from '../kernel.ts';
import type { Target } from '../target.ts';
import { CompileError } from '../passes/errors.ts';
import { type KernelGroup, type Schedule, groupOutputs } from '../passes/schedule.ts';
import { numel } from '../ir.ts';
import type { TensorAssignment } from '../passes/tensors.ts';
import { generateAttention } from './attention.ts';
import type { GenContext, GeneratedKernel } from './common.ts';
import { generateConv } from './conv.ts';
import { generateElementwise } from './elementwise.ts';
import { generateMatmul } from './matmul.ts';
import { generateReduction } from './reduction.ts';
import { IndexRangeError } from './writer.ts';

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');

function mainNode(g: KernelGroup): Node {
  switch (g.kind) {
    case 'elementwise': return g.node;
    case 'reduction': return g.chain[0].anchor;
    case 'matmul': case 'conv': return g.epi.anchor;
    case 'attention': return g.att.pv;
  }
}

export function kernelName(g: KernelGroup, index: number, width: number): string {
  const n = mainNode(g);
  const what = g.kind === 'elementwise' ? (g.own ? n.op : 'copy') : g.kind === 'reduction' ? (g.chain.length > 1 ? 'rowchain' : 'reduce') : g.kind;
  const path = sanitize(n.origin.path);
  return `k${String(index).padStart(width, '0')}_${what}${path ? `_${path}` : ''}`;
}

function generateGroup(name: string, g: KernelGroup, ctx: GenContext, outputTensors: readonly number[]): GeneratedKernel {
  switch (g.kind) {
    case 'elementwise': {
      const out = g.outputIndex !== undefined ? outputTensors[g.outputIndex] : ctx.tensorOf(g.node);
      return generateElementwise(name, g.node, g.own, out, ctx);
    }
    case 'reduction': return generateReduction(name, g.chain, ctx);
    case 'matmul': return generateMatmul(name, g.epi, ctx);
    case 'conv': return generateConv(name, g.epi, ctx);
    case 'attention': return generateAttention(name, g.att, g.epi, ctx);
  }
}

export function generateKernels(s: Schedule, a: TensorAssignment, target: Target, tiles?: GenContext['tiles']): Kernel[] {
  const ctx: GenContext = {
    target,
    tiles,
    storage: { tensorOf: (n) => (s.materialised.has(n.id) ? a.tensorOfNode.get(n.id) : undefined) },
    tensorOf: (n) => {
      const t = a.tensorOfNode.get(n.id);
      if (t === undefined) throw new Error(`codegen: %${n.id} has no tensor`);
      return t;
    },
  };
  // A kernel whose outputs have no elements has nothing to do.
  const groups = s.groups.filter((g) => g.kind === 'elementwise' ? numel(g.node.shape) > 0 : groupOutputs(g).some((n) => numel(n.shape) > 0));
  const width = String(Math.max(0, groups.length - 1)).length;
  return groups.map((g, i) => {
    const name = kernelName(g, i, Math.max(2, width));
    let k: GeneratedKernel;
    try {
      k = generateGroup(name, g, ctx, a.outputTensors);
      // Second pass: bind the tensors the first pass read four at a time as vec4 arrays.
      if (k.vectorAccessed.size > 0) k = generateGroup(name, g, { ...ctx, vectorPlan: k.vectorAccessed }, a.outputTensors);
    } catch (e) {
      if (e instanceof IndexRangeError) {
        throw new CompileError(`kernel ${name} needs an index beyond 32 bits (${e.message}); use tiled decoding (\`kiln vae decode --tile\`) or smaller inputs.`);
      }
      throw e;
    }
    const bytes = k.bindings.reduce((sum, b) => sum + a.tensors[b.tensor].bytes, 0);
    return { name, wgsl: k.wgsl, workgroups: k.workgroups, bindings: k.bindings, kind: k.kind, sourceOps: k.sourceOps, flops: k.flops, bytes };
  });
}

