/**
 * Kiln's graph IR: the one small primitive op set every program is lowered to.
 *
 * Vocabulary
 * - Node: one immutable SSA value with a static shape and a dtype. Nodes are hash-consed by
 *   the GraphBuilder, so structurally equal nodes are the same object (CSE for free).
 * - Op: what a node computes, a string-valued discriminant (`node.op`), grouped by category:
 *     leaves        input, const, iota, random
 *     elementwise   unary, binary, where, cast        (all operands have the node's shape)
 *     reduction     reduce (sum | max over axes; reduced axes are kept with size 1)
 *     views         reshape, permute, expand, slice, pad, concat, repeat  (index maps, no math)
 *     contraction   matmul, conv
 *   Anything else (silu, group_norm, softmax, attention, rearrange, ...) is library code in
 *   the Kiln prelude and reaches the IR as a composition of these.
 * - Origin: where a node came from (Kiln source location and the module path), so that every
 *   generated kernel can name the source ops it implements.
 * - Graph: inputs (runtime inputs and weights, both `input` nodes) and named outputs.
 *
 * Semantics are defined by the reference interpreter (compiler/reference/), which evaluates in
 * float64; integer ops use floor division and floor modulo (Python's), comparisons yield bool.
 */

export type DType = 'f32' | 'f16' | 'i32' | 'bool';

export const isFloat = (d: DType): boolean => d === 'f32' || d === 'f16';

/** Bytes one element takes in a GPU storage buffer (bool is stored as u32). */
export const storageBytes = (d: DType): number => (d === 'f16' ? 2 : 4);

export type UnaryFn =
  | 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'recip'
  | 'sin' | 'cos' | 'tanh' | 'floor' | 'ceil' | 'not';

export type BinaryFn =
  | 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'pow' | 'mod'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';

export const COMPARISONS: ReadonlySet<BinaryFn> = new Set(['lt', 'le', 'gt', 'ge', 'eq', 'ne']);
export const LOGICAL: ReadonlySet<BinaryFn> = new Set(['and', 'or']);

export type ReduceFn = 'sum' | 'max';

export type PadMode = 'constant' | 'replicate';

export type RandomDist = 'normal' | 'uniform';

/** Where a node came from: the Kiln op, the module path that called it, the source location. */
export interface Origin {
  /** The source-level op, e.g. `conv`, `group_norm`, `+`. */
  readonly op: string;
  /** Module instance path and function, e.g. `decoder.mid_block.resnets.0.forward`. */
  readonly path: string;
  /** `file:line:col` of the expression, when known. */
  readonly loc?: string;
}

interface Base {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly src: readonly Node[];
  readonly origin: Origin;
}

export interface InputNode extends Base {
  readonly op: 'input';
  /** Input name, or the state-dict key for weights. */
  readonly name: string;
  readonly kind: 'input' | 'weight';
}
/** A tensor filled with one value (may be +-Infinity or NaN). Never materialised. */
export interface ConstNode extends Base { readonly op: 'const'; readonly value: number }
/** i32 tensor whose value is the index along `axis`. Never materialised. */
export interface IotaNode extends Base { readonly op: 'iota'; readonly axis: number }
/**
 * Counter-based random numbers: element at row-major linear index i is a pure function of
 * (seed, i), Philox4x32-10 keyed by (seed, 0) with counter (i, 0, 0, 0); uniform in [0, 1)
 * from word 0, normal by Box-Muller from words 0 and 1. See compiler/random.ts.
 */
export interface RandomNode extends Base { readonly op: 'random'; readonly dist: RandomDist; readonly seed: number }
export interface UnaryNode extends Base { readonly op: 'unary'; readonly fn: UnaryFn }
export interface BinaryNode extends Base { readonly op: 'binary'; readonly fn: BinaryFn }
/** src = [cond (bool), a, b]. */
export interface WhereNode extends Base { readonly op: 'where' }
/** Conversion to `dtype`; float -> i32 truncates toward zero, -> bool is `!= 0`. */
export interface CastNode extends Base { readonly op: 'cast' }
/** Reduction over `axes` (sorted, unique); the output keeps them with size 1. */
export interface ReduceNode extends Base { readonly op: 'reduce'; readonly fn: ReduceFn; readonly axes: readonly number[] }
/** Same elements in row-major order, another shape. */
export interface ReshapeNode extends Base { readonly op: 'reshape' }
/** out[i_0..i_n] = in[j] with j[perm[k]] = i[k], i.e. out.shape[k] = in.shape[perm[k]]. */
export interface PermuteNode extends Base { readonly op: 'permute'; readonly perm: readonly number[] }
/** Same rank; every axis of size 1 in the input may have any size in the output. */
export interface ExpandNode extends Base { readonly op: 'expand' }
/** out[i] = in[start + i * step] per axis (step >= 1); the node's shape gives the counts. */
export interface SliceNode extends Base { readonly op: 'slice'; readonly start: readonly number[]; readonly step: readonly number[] }
/**
 * Per axis [before, after] (>= 0). constant: outside the input the value is `value`;
 * replicate: indices are clamped into the input (edge values repeat).
 */
export interface PadNode extends Base {
  readonly op: 'pad';
  readonly pads: readonly (readonly [number, number])[];
  readonly mode: PadMode;
  readonly value: number;
}
/** Inputs joined along `axis`; all other axes equal. */
export interface ConcatNode extends Base { readonly op: 'concat'; readonly axis: number }
/** Nearest-neighbour upsampling by integer factors: out[i] = in[floor(i / f)] per axis. */
export interface RepeatNode extends Base { readonly op: 'repeat'; readonly factors: readonly number[] }
/**
 * Rows of a table picked by index: src = [table [V, ...R], ids (i32) [...I]] and
 * out[i, r] = table[ids[i], r], shape [...I, ...R] (an embedding lookup). A view whose row
 * coordinate is data: ids must lie in [0, V); the interpreter throws on one that does not,
 * generated code clamps it into the table (WGSL cannot raise).
 */
export interface GatherNode extends Base { readonly op: 'gather' }
/** [...batch, M, K] x [...batch, K, N] -> [...batch, M, N]; batch dims equal (expand first). */
export interface MatmulNode extends Base { readonly op: 'matmul' }
/**
 * Cross-correlation, groups 1, dilation 1, no implicit padding (pad is a separate view):
 * [B, Cin, ...S] x [Cout, Cin, ...K] -> [B, Cout, ...(floor((S - K) / stride) + 1)].
 */
export interface ConvNode extends Base { readonly op: 'conv'; readonly stride: readonly number[] }

export type Node =
  | InputNode | ConstNode | IotaNode | RandomNode
  | UnaryNode | BinaryNode | WhereNode | CastNode
  | ReduceNode
  | ReshapeNode | PermuteNode | ExpandNode | SliceNode | PadNode | ConcatNode | RepeatNode | GatherNode
  | MatmulNode | ConvNode;

export type Op = Node['op'];

export type OpCategory = 'leaf' | 'elementwise' | 'reduction' | 'view' | 'contraction';

export const OP_CATEGORY: { readonly [K in Op]: OpCategory } = {
  input: 'leaf', const: 'leaf', iota: 'leaf', random: 'leaf',
  unary: 'elementwise', binary: 'elementwise', where: 'elementwise', cast: 'elementwise',
  reduce: 'reduction',
  reshape: 'view', permute: 'view', expand: 'view', slice: 'view', pad: 'view', concat: 'view', repeat: 'view', gather: 'view',
  matmul: 'contraction', conv: 'contraction',
};

export interface GraphOutput { readonly name: string; readonly node: Node }

/** A whole program after binding: static shapes, SSA, weights as named inputs. */
export interface Graph {
  /** Runtime inputs (kind 'input') in call order, then weights (kind 'weight'). */
  readonly inputs: readonly InputNode[];
  readonly outputs: readonly GraphOutput[];
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Row-major strides. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Every node reachable from the outputs, inputs before users (a valid schedule order). */
export function topoSort(roots: readonly Node[]): Node[] {
  const seen = new Set<number>();
  const order: Node[] = [];
  // Iterative post-order: graphs from real models are deep (thousands of nodes).
  const stack: [Node, number][] = roots.map((r) => [r, 0]);
  stack.reverse();
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (seen.has(node.id)) { stack.pop(); continue; }
    if (i < node.src.length) {
      top[1] = i + 1;
      const child = node.src[i];
      if (!seen.has(child.id)) stack.push([child, 0]);
    } else {
      stack.pop();
      seen.add(node.id);
      order.push(node);
    }
  }
  return order;
}

/** Map from node id to the nodes that use it (within the part of the graph reachable from roots). */
export function usersOf(order: readonly Node[]): Map<number, Node[]> {
  const users = new Map<number, Node[]>();
  for (const n of order) {
    for (const s of n.src) {
      let list = users.get(s.id);
      if (!list) users.set(s.id, (list = []));
      if (!list.includes(n)) list.push(n);
    }
  }
  return users;
}

export function describeNode(n: Node): string {
  const attrs: string[] = [];
  switch (n.op) {
    case 'input': attrs.push(`${n.kind} ${JSON.stringify(n.name)}`); break;
    case 'const': attrs.push(String(n.value)); break;
    case 'iota': attrs.push(`axis=${n.axis}`); break;
    case 'random': attrs.push(`${n.dist} seed=${n.seed}`); break;
    case 'unary': case 'binary': attrs.push(n.fn); break;
    case 'reduce': attrs.push(`${n.fn} axes=[${n.axes}]`); break;
    case 'permute': attrs.push(`perm=[${n.perm}]`); break;
    case 'slice': attrs.push(`start=[${n.start}] step=[${n.step}]`); break;
    case 'pad': attrs.push(`${n.mode} ${JSON.stringify(n.pads)}${n.mode === 'constant' ? ` value=${n.value}` : ''}`); break;
    case 'concat': attrs.push(`axis=${n.axis}`); break;
    case 'repeat': attrs.push(`factors=[${n.factors}]`); break;
    case 'conv': attrs.push(`stride=[${n.stride}]`); break;
    default: break;
  }
  const src = n.src.map((s) => `%${s.id}`).join(', ');
  return `%${n.id} = ${n.op}${attrs.length ? `[${attrs.join(' ')}]` : ''}(${src}) : ${n.dtype}[${n.shape.join(', ')}]`;
}

/** A readable listing of a graph, one node per line, for dumps and snapshot tests. */
export function printGraph(g: Graph): string {
  const order = topoSort(g.outputs.map((o) => o.node));
  const lines = order.map(describeNode);
  for (const o of g.outputs) lines.push(`output ${JSON.stringify(o.name)} = %${o.node.id}`);
  return lines.join('\n');
}
