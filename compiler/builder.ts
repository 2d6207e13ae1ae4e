/**
 * GraphBuilder: the only way IR nodes are made. It validates every node's operands (shapes,
 * dtypes, attributes), hash-conses structurally equal nodes, and stamps each node with the
 * current Origin. A validation failure here is a compiler bug or a misuse of the builder API,
 * never a user error: the Kiln checker reports user mistakes before any node is built.
 */
import {
  type BinaryFn, type DType, type GraphOutput, type InputNode, type Node, type Origin, type PadMode,
  type RandomDist, type ReduceFn, type UnaryFn, type Graph, COMPARISONS, LOGICAL, isFloat, numel,
} from './ir.ts';

export class IRError extends Error {
  override name = 'IRError';
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

function fail(msg: string): never {
  throw new IRError(msg);
}

function checkShape(shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) fail(`${what}: invalid dimension ${d} in [${shape.join(', ')}]`);
  }
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

type NodeSpec = Omit<Node, 'id' | 'origin'>;

export class GraphBuilder {
  private nextId = 0;
  private readonly interned = new Map<string, Node>();
  private readonly inputsByName = new Map<string, InputNode>();
  private originStack: Origin[] = [{ op: 'graph', path: '' }];

  /** Run `fn` with `origin` stamped on every node it creates. */
  withOrigin<T>(origin: Origin, fn: () => T): T {
    this.originStack.push(origin);
    try {
      return fn();
    } finally {
      this.originStack.pop();
    }
  }

  get origin(): Origin {
    return this.originStack[this.originStack.length - 1];
  }

  private make<T extends Node>(spec: NodeSpec): T {
    const { src, ...rest } = spec as NodeSpec & { src: readonly Node[] };
    const key = JSON.stringify(rest, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) +
      '|' + src.map((s) => s.id).join(',');
    const hit = this.interned.get(key);
    if (hit) return hit as T;
    const node = Object.freeze({ ...spec, id: this.nextId++, origin: this.origin }) as unknown as T;
    this.interned.set(key, node);
    return node;
  }

  input(name: string, shape: readonly number[], dtype: DType, kind: 'input' | 'weight' = 'input'): InputNode {
    checkShape(shape, `input ${name}`);
    const prev = this.inputsByName.get(name);
    if (prev) {
      if (!sameShape(prev.shape, shape) || prev.dtype !== dtype || prev.kind !== kind) {
        fail(`input ${name} declared twice with different types`);
      }
      return prev;
    }
    const node = this.make<InputNode>({ op: 'input', name, kind, shape: [...shape], dtype, src: [] } as NodeSpec);
    this.inputsByName.set(name, node);
    return node;
  }

  const(value: number, shape: readonly number[], dtype: DType = 'f32'): Node {
    checkShape(shape, 'const');
    if (dtype === 'bool') value = value ? 1 : 0;
    if (dtype === 'i32' && !Number.isInteger(value)) fail(`const: ${value} is not an i32`);
    return this.make({ op: 'const', value, shape: [...shape], dtype, src: [] } as NodeSpec);
  }

  iota(shape: readonly number[], axis: number): Node {
    checkShape(shape, 'iota');
    const a = normAxis(axis, shape.length, 'iota');
    return this.make({ op: 'iota', axis: a, shape: [...shape], dtype: 'i32', src: [] } as NodeSpec);
  }

  random(shape: readonly number[], dist: RandomDist, seed: number, dtype: DType = 'f32'): Node {
    checkShape(shape, 'random');
    if (!isFloat(dtype)) fail('random: dtype must be a float type');
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`random: seed ${seed} is not a u32`);
    return this.make({ op: 'random', dist, seed, shape: [...shape], dtype, src: [] } as NodeSpec);
  }

  unary(fn: UnaryFn, x: Node): Node {
    if (fn === 'not') {
      if (x.dtype !== 'bool') fail('not: operand must be bool');
    } else if (x.dtype === 'bool') {
      fail(`${fn}: operand must be numeric`);
    } else if (x.dtype === 'i32' && !['neg', 'abs'].includes(fn)) {
      fail(`${fn}: operand must be a float (cast it first)`);
    }
    return this.make({ op: 'unary', fn, shape: x.shape, dtype: x.dtype, src: [x] } as NodeSpec);
  }

  binary(fn: BinaryFn, a: Node, b: Node): Node {
    if (!sameShape(a.shape, b.shape)) fail(`${fn}: shapes differ [${a.shape}] vs [${b.shape}] (expand first)`);
    if (a.dtype !== b.dtype) fail(`${fn}: dtypes differ ${a.dtype} vs ${b.dtype} (cast first)`);
    if (LOGICAL.has(fn) !== (a.dtype === 'bool')) fail(`${fn}: invalid operand dtype ${a.dtype}`);
    if (fn === 'pow' && !isFloat(a.dtype)) fail('pow: operands must be floats');
    const dtype: DType = COMPARISONS.has(fn) ? 'bool' : a.dtype;
    return this.make({ op: 'binary', fn, shape: a.shape, dtype, src: [a, b] } as NodeSpec);
  }

  where(cond: Node, a: Node, b: Node): Node {
    if (cond.dtype !== 'bool') fail('where: condition must be bool');
    if (!sameShape(cond.shape, a.shape) || !sameShape(a.shape, b.shape)) fail('where: shapes differ (expand first)');
    if (a.dtype !== b.dtype) fail('where: branch dtypes differ');
    return this.make({ op: 'where', shape: a.shape, dtype: a.dtype, src: [cond, a, b] } as NodeSpec);
  }

  cast(x: Node, dtype: DType): Node {
    if (x.dtype === dtype) return x;
    return this.make({ op: 'cast', shape: x.shape, dtype, src: [x] } as NodeSpec);
  }

  reduce(fn: ReduceFn, x: Node, axes: readonly number[]): Node {
    if (x.dtype === 'bool') fail(`reduce ${fn}: bool operand (cast first)`);
    const norm = [...new Set(axes.map((a) => normAxis(a, x.shape.length, `reduce ${fn}`)))].sort((p, q) => p - q);
    if (norm.length === 0) return x;
    const shape = x.shape.map((d, i) => (norm.includes(i) ? 1 : d));
    return this.make({ op: 'reduce', fn, axes: norm, shape, dtype: x.dtype, src: [x] } as NodeSpec);
  }

  reshape(x: Node, shape: readonly number[]): Node {
    checkShape(shape, 'reshape');
    if (numel(shape) !== numel(x.shape)) fail(`reshape: [${x.shape}] has ${numel(x.shape)} elements, [${shape}] has ${numel(shape)}`);
    if (sameShape(shape, x.shape)) return x;
    // Collapse chains: reshape(reshape(y)) is reshape(y).
    const base = x.op === 'reshape' ? x.src[0] : x;
    if (sameShape(shape, base.shape)) return base;
    return this.make({ op: 'reshape', shape: [...shape], dtype: x.dtype, src: [base] } as NodeSpec);
  }

  permute(x: Node, perm: readonly number[]): Node {
    const r = x.shape.length;
    if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) fail(`permute: [${perm}] is not a permutation of ${r} axes`);
    if (perm.every((p, i) => p === i)) return x;
    const shape = perm.map((p) => x.shape[p]);
    return this.make({ op: 'permute', perm: [...perm], shape, dtype: x.dtype, src: [x] } as NodeSpec);
  }

  expand(x: Node, shape: readonly number[]): Node {
    checkShape(shape, 'expand');
    if (shape.length !== x.shape.length) fail(`expand: rank ${x.shape.length} -> ${shape.length} (reshape first)`);
    x.shape.forEach((d, i) => {
      if (d !== shape[i] && d !== 1) fail(`expand: axis ${i} has size ${d}, cannot expand to ${shape[i]}`);
    });
    if (sameShape(shape, x.shape)) return x;
    return this.make({ op: 'expand', shape: [...shape], dtype: x.dtype, src: [x] } as NodeSpec);
  }

  /** Per axis: start, count (output size), step >= 1. */
  slice(x: Node, start: readonly number[], count: readonly number[], step?: readonly number[]): Node {
    const r = x.shape.length;
    const st = step ?? new Array<number>(r).fill(1);
    if (start.length !== r || count.length !== r || st.length !== r) fail('slice: one start/count/step per axis');
    for (let i = 0; i < r; i++) {
      if (!Number.isInteger(st[i]) || st[i] < 1) fail(`slice: step ${st[i]} on axis ${i} must be >= 1`);
      if (count[i] < 0 || start[i] < 0 || (count[i] > 0 && start[i] + (count[i] - 1) * st[i] >= x.shape[i])) {
        fail(`slice: axis ${i} start ${start[i]} count ${count[i]} step ${st[i]} exceeds size ${x.shape[i]}`);
      }
    }
    if (start.every((s) => s === 0) && sameShape(count, x.shape)) return x;
    return this.make({ op: 'slice', start: [...start], step: [...st], shape: [...count], dtype: x.dtype, src: [x] } as NodeSpec);
  }

  pad(x: Node, pads: readonly (readonly [number, number])[], mode: PadMode, value = 0): Node {
    if (pads.length !== x.shape.length) fail('pad: one [before, after] per axis');
    for (const [b, a] of pads) if (!Number.isInteger(b) || !Number.isInteger(a) || b < 0 || a < 0) fail('pad: widths must be integers >= 0');
    if (mode === 'replicate' && x.shape.some((d, i) => d === 0 && pads[i][0] + pads[i][1] > 0)) fail('pad: cannot replicate-pad an empty axis');
    if (pads.every(([b, a]) => b === 0 && a === 0)) return x;
    const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    return this.make({ op: 'pad', pads: pads.map(([b, a]) => [b, a] as const), mode, value: mode === 'constant' ? value : 0, shape, dtype: x.dtype, src: [x] } as NodeSpec);
  }

  concat(xs: readonly Node[], axis: number): Node {
    if (xs.length === 0) fail('concat: no operands');
    const r = xs[0].shape.length;
    const a = normAxis(axis, r, 'concat');
    for (const x of xs) {
      if (x.shape.length !== r) fail('concat: ranks differ');
      if (x.dtype !== xs[0].dtype) fail('concat: dtypes differ');
      x.shape.forEach((d, i) => { if (i !== a && d !== xs[0].shape[i]) fail(`concat: axis ${i} sizes differ`); });
    }
    const parts = xs.filter((x) => x.shape[a] > 0);
    if (parts.length === 1) return parts[0];
    const shape = [...xs[0].shape];
    shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
    return this.make({ op: 'concat', axis: a, shape, dtype: xs[0].dtype, src: parts.length ? parts : [xs[0]] } as NodeSpec);
  }

  repeat(x: Node, factors: readonly number[]): Node {
    if (factors.length !== x.shape.length || factors.some((f) => !Number.isInteger(f) || f < 1)) fail('repeat: one integer factor >= 1 per axis');
    if (factors.every((f) => f === 1)) return x;
    const shape = x.shape.map((d, i) => d * factors[i]);
    return this.make({ op: 'repeat', factors: [...factors], shape, dtype: x.dtype, src: [x] } as NodeSpec);
  }

  /** Rows of `table` [V, ...R] picked by the i32 `ids` [...I]: [...I, ...R]. */
  gather(table: Node, ids: Node): Node {
    if (table.shape.length < 1) fail('gather: the table needs at least one axis (its rows)');
    if (ids.dtype !== 'i32') fail(`gather: ids must be i32, got ${ids.dtype}`);
    const shape = [...ids.shape, ...table.shape.slice(1)];
    return this.make({ op: 'gather', shape, dtype: table.dtype, src: [table, ids] } as NodeSpec);
  }

  matmul(a: Node, b: Node): Node {
    const r = a.shape.length;
    if (r < 2 || b.shape.length !== r) fail(`matmul: operands need the same rank >= 2, got [${a.shape}] and [${b.shape}]`);
    if (a.dtype !== b.dtype || !isFloat(a.dtype)) fail('matmul: operands must share a float dtype');
    for (let i = 0; i < r - 2; i++) if (a.shape[i] !== b.shape[i]) fail(`matmul: batch axis ${i} differs (expand first)`);
    if (a.shape[r - 1] !== b.shape[r - 2]) fail(`matmul: contracted sizes differ: [${a.shape}] x [${b.shape}]`);
    const shape = [...a.shape.slice(0, r - 1), b.shape[r - 1]];
    return this.make({ op: 'matmul', shape, dtype: a.dtype, src: [a, b] } as NodeSpec);
  }

  conv(x: Node, w: Node, stride: readonly number[]): Node {
    const nd = x.shape.length - 2;
    if (nd < 1 || w.shape.length !== nd + 2) fail(`conv: input [${x.shape}] and weight [${w.shape}] ranks do not match`);
    if (stride.length !== nd || stride.some((s) => !Number.isInteger(s) || s < 1)) fail('conv: one stride >= 1 per spatial axis');
    if (x.dtype !== w.dtype || !isFloat(x.dtype)) fail('conv: operands must share a float dtype');
    if (x.shape[1] !== w.shape[1]) fail(`conv: input has ${x.shape[1]} channels, weight expects ${w.shape[1]}`);
    const spatial = x.shape.slice(2).map((s, i) => {
      const k = w.shape[2 + i];
      if (s < k) fail(`conv: spatial axis ${i} of size ${s} is smaller than the kernel ${k}`);
      return Math.floor((s - k) / stride[i]) + 1;
    });
    const shape = [x.shape[0], w.shape[0], ...spatial];
    return this.make({ op: 'conv', stride: [...stride], shape, dtype: x.dtype, src: [x, w] } as NodeSpec);
  }

  graph(outputs: readonly GraphOutput[]): Graph {
    const names = new Set<string>();
    for (const o of outputs) {
      if (names.has(o.name)) fail(`duplicate output name ${o.name}`);
      names.add(o.name);
    }
    const all = [...this.inputsByName.values()];
    const inputs = [...all.filter((n) => n.kind === 'input'), ...all.filter((n) => n.kind === 'weight')];
    return { inputs, outputs: [...outputs] };
  }
}
