/**
 * Leaf primitives of the reference interpreter that need no inputs: const (one value
 * everywhere), iota (the i32 index along one axis) and random (compiler/random.ts, element i
 * drawn from (seed, i) for row-major index i). Random values are not rounded to the node's
 * dtype: like all float math here they are exact float64 results of the defining formula.
 */
import type { ConstNode, IotaNode, RandomNode } from '../ir.ts';
import { numel } from '../ir.ts';
import { randomNormal, randomUniform } from '../random.ts';

export function evalConst(node: ConstNode): Float64Array {
  return new Float64Array(numel(node.shape)).fill(node.value);
}

export function evalIota(node: IotaNode): Float64Array {
  const out = new Float64Array(numel(node.shape));
  const outer = numel(node.shape.slice(0, node.axis));
  const len = node.shape[node.axis];
  const inner = numel(node.shape.slice(node.axis + 1));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < len; i++) {
      out.fill(i, o, o + inner);
      o += inner;
    }
  }
  return out;
}

export function evalRandom(node: RandomNode): Float64Array {
  const out = new Float64Array(numel(node.shape));
  const draw = node.dist === 'normal' ? randomNormal : randomUniform;
  for (let i = 0; i < out.length; i++) out[i] = draw(node.seed, i);
  return out;
}
