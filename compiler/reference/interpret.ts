/**
 * The reference interpreter: evaluates graph IR on the CPU in float64. It is the oracle every
 * backend is tested against, so its behaviour *is* the semantics of the IR:
 *
 * Values
 * - Every dtype is held in a Float64Array, row-major. bool is 0/1; i32 values are integers in
 *   [-2^31, 2^31). Float arithmetic is exact IEEE float64 whatever the node's dtype (f32 and
 *   f16 results are not rounded); only `cast` to f16 rounds. Inputs are used as given.
 *
 * Elementwise (all operands have the node's shape)
 * - unary: neg, abs, exp, log, sqrt, rsqrt = 1/sqrt, recip = 1/x, sin, cos, tanh, floor, ceil
 *   (JavaScript Math semantics); not (bool). On i32 only neg and abs, wrapping (-(-2^31) = -2^31).
 * - binary: add, sub, mul, div, max, min, pow (Math.pow), mod; lt, le, gt, ge, eq, ne -> bool
 *   (any comparison with NaN is false, except ne); and, or on bool. max and min propagate NaN.
 *   float div is IEEE division; float mod is a - b * floor(a / b) (NaN for b = 0).
 *   i32 results wrap to 32-bit two's complement; i32 div is floor division and mod is floor
 *   modulo (Python's: the remainder takes the divisor's sign). Dividing by zero yields the
 *   dividend and modulo zero yields 0, as WGSL's integer / and % do.
 * - where(cond, a, b): a where cond != 0, else b.
 * - cast: to i32 truncates toward zero, NaN -> 0, saturating at -2^31 and 2^31 - 1; to bool is
 *   x != 0 (so NaN -> 1); to f16 rounds once to the nearest half (ties to even, magnitudes >=
 *   65520 -> +-Infinity, see compiler/f16.ts); to f32 is exact (nothing is rounded to f32).
 *
 * Reductions: sum and max over axes kept with size 1; sums accumulate in float64 left to right
 * in row-major order of the reduced positions; an empty axis gives 0 (sum) or -Infinity (max;
 * -2^31 for i32). See reduce.ts.
 *
 * Views are index maps (see ir.ts and views.ts): reshape (row-major), permute
 * (out.shape[k] = in.shape[perm[k]]), expand, slice (start + i * step), pad (constant value or
 * replicate = clamp), concat, repeat (out[i] = in[floor(i / f)]).
 *
 * Contractions: matmul with batch axes; N-d cross-correlation with stride, no padding,
 * groups 1. Leaves: const, iota (i32 index along an axis), random (compiler/random.ts).
 *
 * Evaluation order is the topological schedule from `topoSort`; an intermediate value is
 * dropped as soon as its last user has been evaluated, so large graphs hold only live values.
 * Produced arrays are never mutated afterwards (reshape shares its source's array), so an
 * `onNode` callback must not mutate what it is given.
 */
import type { Graph, InputNode, Node } from '../ir.ts';
import { numel, topoSort } from '../ir.ts';
import { evalBinary, evalCast, evalUnary, evalWhere } from './elementwise.ts';
import { evalConst, evalIota, evalRandom } from './leaves.ts';
import { evalReduce } from './reduce.ts';
import { evalConcat, evalExpand, evalPad, evalPermute, evalRepeat, evalGather, evalSlice } from './views.ts';
import { evalConv, evalMatmul } from './contraction.ts';

/** Input values by input name (runtime inputs and weights alike), row-major. */
export type InterpreterInputs = ReadonlyMap<string, ArrayLike<number>> | Readonly<Record<string, ArrayLike<number>>>;

export interface InterpretOptions {
  /** Called once per node, in schedule order, with its freshly computed values (do not mutate). */
  readonly onNode?: (node: Node, values: Float64Array) => void;
}

/** A caller supplied no value, or a value of the wrong size, for one of the graph's inputs. */
export class InterpreterInputError extends Error {
  override name = 'InterpreterInputError';
  readonly userFacing = true;
}

const typeOf = (n: Node): string => `${n.dtype}[${n.shape.join(', ')}]`;

function lookup(inputs: InterpreterInputs, name: string): ArrayLike<number> | undefined {
  if (inputs instanceof Map) return (inputs as ReadonlyMap<string, ArrayLike<number>>).get(name);
  const rec = inputs as Readonly<Record<string, ArrayLike<number>>>;
  return Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
}

function bindInput(node: InputNode, inputs: InterpreterInputs): Float64Array {
  const given = lookup(inputs, node.name);
  const expected = numel(node.shape);
  if (given === undefined) {
    throw new InterpreterInputError(
      `reference interpreter: no value for ${node.kind} "${node.name}": expected ${typeOf(node)} ` +
      `(${expected} values, row-major); pass it in the inputs under that name`,
    );
  }
  if (given.length !== expected) {
    throw new InterpreterInputError(
      `reference interpreter: ${node.kind} "${node.name}" has ${given.length} values, expected ${expected} ` +
      `for ${typeOf(node)}; check the shape of the tensor given for it`,
    );
  }
  return given instanceof Float64Array ? given : Float64Array.from(given);
}

function evalNode(node: Node, args: readonly Float64Array[], inputs: InterpreterInputs): Float64Array {
  switch (node.op) {
    case 'input': return bindInput(node, inputs);
    case 'const': return evalConst(node);
    case 'iota': return evalIota(node);
    case 'random': return evalRandom(node);
    case 'unary': return evalUnary(node.fn, node.dtype, args[0]);
    case 'binary': return evalBinary(node.fn, node.src[0].dtype, args[0], args[1]);
    case 'where': return evalWhere(args[0], args[1], args[2]);
    case 'cast': return evalCast(node.dtype, node.src[0].dtype, args[0]);
    case 'reduce': return evalReduce(node.fn, node.dtype, args[0], node.src[0].shape, node.axes);
    case 'reshape': return args[0];
    case 'permute': return evalPermute(node, args[0]);
    case 'expand': return evalExpand(node, args[0]);
    case 'slice': return evalSlice(node, args[0]);
    case 'pad': return evalPad(node, args[0]);
    case 'concat': return evalConcat(node, args);
    case 'repeat': return evalRepeat(node, args[0]);
    case 'gather': return evalGather(node, args[0], args[1]);
    case 'matmul': return evalMatmul(node, args[0], args[1]);
    case 'conv': return evalConv(node, args[0], args[1]);
    default: {
      const never: never = node;
      throw new Error(`reference interpreter: unknown op ${(never as Node).op}`);
    }
  }
}

/**
 * Values of `roots` (by node id), evaluating everything they depend on. Intermediate values
 * are freed once their last user is done; pass intermediate nodes as roots to keep them.
 * Returned arrays may be shared (an input returned as given, a reshape sharing its source):
 * treat them as read-only, or use `interpret`, which hands out private copies.
 */
export function evaluate(roots: readonly Node[], inputs: InterpreterInputs, opts: InterpretOptions = {}): Map<number, Float64Array> {
  const order = topoSort(roots);
  const isRoot = new Set(roots.map((r) => r.id));
  // Remaining distinct users per node; a value is dropped when this reaches zero.
  const pending = new Map<number, number>();
  for (const n of order) {
    for (const s of new Set(n.src)) pending.set(s.id, (pending.get(s.id) ?? 0) + 1);
  }
  const values = new Map<number, Float64Array>();
  for (const node of order) {
    const args = node.src.map((s) => values.get(s.id) as Float64Array);
    const v = evalNode(node, args, inputs);
    values.set(node.id, v);
    opts.onNode?.(node, v);
    for (const s of new Set(node.src)) {
      const left = (pending.get(s.id) as number) - 1;
      pending.set(s.id, left);
      if (left === 0 && !isRoot.has(s.id)) values.delete(s.id);
    }
  }
  const result = new Map<number, Float64Array>();
  for (const r of roots) result.set(r.id, values.get(r.id) as Float64Array);
  return result;
}

/**
 * Every output of `graph` by name. Inputs are looked up by input name (weights by state-dict
 * key); a missing input or a wrong element count is an InterpreterInputError. Each returned
 * array is the caller's own: none aliases an input array or another output.
 */
export function interpret(graph: Graph, inputs: InterpreterInputs, opts: InterpretOptions = {}): Map<string, Float64Array> {
  const byId = evaluate(graph.outputs.map((o) => o.node), inputs, opts);
  const given = new Set<unknown>();
  if (inputs instanceof Map) for (const v of inputs.values()) given.add(v);
  else for (const v of Object.values(inputs)) given.add(v);
  const handedOut = new Set<Float64Array>();
  const out = new Map<string, Float64Array>();
  for (const o of graph.outputs) {
    let v = byId.get(o.node.id) as Float64Array;
    if (given.has(v) || handedOut.has(v)) v = v.slice();
    handedOut.add(v);
    out.set(o.name, v);
  }
  return out;
}
