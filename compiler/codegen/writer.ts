/**
 * KernelWriter: builds the WGSL text of one kernel.
 *
 * Vocabulary
 * - Scope: a brace-delimited block (the function body, a loop, an if). Scopes form a stack;
 *   the *level* of a scope is its depth (the function body is level 0).
 * - let: an immutable temporary. `let` places each temporary in the scope of its level (the
 *   deepest level among its operands), so loop-invariant work lands outside the loops, and
 *   remembers it under a key there (common-subexpression elimination): asking again for the
 *   same key returns the same name while that scope is open.
 * - Binding: a storage buffer the kernel reads or writes, declared in first-use order.
 *
 * Temporaries must only depend on immutable values (lets, loop variables); code that reads
 * mutable `var`s emits at the current level explicitly (`stmt`, `letHere`).
 */
import type { DType } from '../ir.ts';
import { type Atom, Ix, fitsU32 } from './index_expr.ts';
import type { TargetLimits } from '../target.ts';
import { type Helper, helperSource, storageType } from './wgsl.ts';

interface Scope {
  readonly header: string;
  readonly lines: string[];
  readonly cse: Map<string, string>;
}

export interface BoundTensor {
  readonly tensor: number;
  readonly name: string;
  readonly dtype: DType;
  access: 'read' | 'read_write';
  /** Declared as array<vec4<...>>: four elements per array index. */
  readonly vec4: boolean;
}

export class IndexRangeError extends Error {
  override name = 'IndexRangeError';
}

export interface WriterOptions {
  /**
   * Hide constant loop trip counts behind a runtime zero (`n + kiln_zero`). LLVM (lavapipe)
   * fully unrolls small constant loops, which multiplies shader-compile time (seconds per
   * kernel) for no measurable run-time gain; GPU drivers keep their own heuristics.
   */
  readonly opaqueLoopBounds?: boolean;
  /**
   * Precede each workgroupBarrier with a storageBarrier. Dawn's OpenGL ES backend writes
   * workgroupBarrier as GLSL `barrier()` alone, which Mesa does not treat as a memory fence for
   * shared variables: reads of workgroup memory moved across it (a chained reduction's second
   * tree read the first one's partials; GroupNorm variances came out a third to a half too large).
   * With a storageBarrier beside it the results are right (test/compiler/gpu/opengles.test.ts);
   * two workgroupBarriers in a row were not enough.
   */
  readonly fencedBarriers?: boolean;
  /**
   * Tensors to bind as arrays of vec4 (decided by a first generation pass: those read or
   * written four aligned elements at a time). Each tensor gets exactly one binding; scalar
   * accesses to a vec4 tensor index its component. Without a plan, vector and scalar accesses
   * get separate bindings (fine for the discovery pass, whose text is thrown away).
   */
  readonly vectorPlan?: ReadonlySet<number>;
  /** Device limits the kernel must respect (checked when the kernel is finished). */
  readonly limits?: TargetLimits;
  /**
   * The storage dtype of a tensor when it differs from the logical dtype of the nodes stored in
   * it (f32 values kept in f16 buffers; compile's `storage: 'f16'`). Loads convert to the value
   * type and stores round to the storage type, so the arithmetic stays in f32.
   */
  readonly storageOf?: (tensor: number) => DType | undefined;
}

/** Element types a vec4 binding can hold. */
/** WGSL extensions a kernel may enable (beyond f16, which binding an f16 buffer enables). */
export type WgslExtension = 'subgroups' | 'chromium_experimental_subgroup_matrix';

export const vectorizable = (d: DType): boolean => d === 'f32' || d === 'i32' || d === 'f16';

export class KernelWriter {
  private readonly scopes: Scope[] = [{ header: '', lines: [], cse: new Map() }];
  private usesZero = false;
  /** Tensors accessed four elements at a time (for the next pass's vectorPlan). */
  readonly vectorAccessed = new Set<number>();
  private counter = 0;
  readonly bindings: BoundTensor[] = [];
  readonly helpers = new Set<Helper>();
  private readonly moduleDecls: string[] = [];
  private usesF16 = false;
  private readonly extensions = new Set<WgslExtension>();

  constructor(private readonly opts: WriterOptions = {}) {}

  /** A workgroup barrier (execution and workgroup memory; see WriterOptions.fencedBarriers). */
  barrier(): void {
    this.stmt(this.opts.fencedBarriers ? 'storageBarrier(); workgroupBarrier();' : 'workgroupBarrier();');
  }

  /** A loop bound of `n` iterations (see WriterOptions.opaqueLoopBounds). */
  bound(n: number): string {
    if (!this.opts.opaqueLoopBounds || n <= 1) return `${n}u`;
    this.usesZero = true;
    return `${n}u + kiln_zero`;
  }

  get level(): number {
    return this.scopes.length - 1;
  }

  fresh(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  /** A temporary at `level` for `expr`; with a key, reused while its scope is open. */
  let(expr: string, level: number, key?: string, prefix = 't'): string {
    if (key !== undefined) {
      const hit = this.lookup(key);
      if (hit !== undefined) return hit;
    }
    const lvl = Math.min(level, this.level);
    const name = this.fresh(prefix);
    const scope = this.scopes[lvl];
    scope.lines.push(`let ${name} = ${expr};`);
    if (key !== undefined) scope.cse.set(key, name);
    return name;
  }

  lookup(key: string): string | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const hit = this.scopes[i].cse.get(key);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /** Register a name for a key at a level (e.g. an accumulator standing for an anchor value). */
  define(key: string, name: string, level = this.level): void {
    this.scopes[Math.min(level, this.level)].cse.set(key, name);
  }

  stmt(...lines: string[]): void {
    this.scopes[this.level].lines.push(...lines);
  }

  /** Open a block with a header such as `for (...)` or `if (...)`. */
  open(header: string): void {
    this.scopes.push({ header, lines: [], cse: new Map() });
  }

  close(): void {
    const s = this.scopes.pop();
    if (!s || this.scopes.length === 0) throw new Error('KernelWriter: unbalanced close');
    const parent = this.scopes[this.scopes.length - 1];
    parent.lines.push(`${s.header} {`);
    for (const l of s.lines) parent.lines.push(`  ${l}`);
    parent.lines.push('}');
  }

  /** `for (var name = 0u; name < count; name++)`; the caller builds the Ix var at the new level. */
  openLoop(name: string, count: number | string, step = 1): void {
    const c = typeof count === 'number' ? this.bound(count) : count;
    this.open(`for (var ${name} = 0u; ${name} < ${c}; ${name} += ${step}u)`);
  }

  moduleDecl(line: string): void {
    this.moduleDecls.push(line);
  }

  private sharedBytes = 0;

  /** Workgroup memory still free under the device's limit (unlimited without limits). */
  workgroupBytesLeft(): number {
    return (this.opts.limits?.maxComputeWorkgroupStorageSize ?? Infinity) - this.sharedBytes;
  }

  /** A workgroup-memory array (counted against maxComputeWorkgroupStorageSize). */
  workgroupArray(name: string, type: 'f32' | 'f16' | 'i32' | 'u32', length: number): void {
    if (type === 'f16') this.usesF16 = true;
    this.sharedBytes += (type === 'f16' ? 2 : 4) * length;
    this.moduleDecl(`var<workgroup> ${name}: array<${type}, ${length}>;`);
  }

  use(h: Helper): void {
    this.helpers.add(h);
  }

  /** The WGSL variable of a tensor's binding (declared on first use). */
  bind(tensor: number, dtype: DType, access: 'read' | 'read_write', vec4 = this.opts.vectorPlan?.has(tensor) ?? false): string {
    let b = this.bindings.find((x) => x.tensor === tensor && x.vec4 === vec4);
    if (!b) {
      b = { tensor, name: `b${this.bindings.length}`, dtype, access, vec4 };
      this.bindings.push(b);
      if (dtype === 'f16') this.usesF16 = true;
    } else if (access === 'read_write') {
      b.access = 'read_write';
    }
    return b.name;
  }

  /** The dtype a tensor's buffer holds: its own storage choice, else the logical `dtype`. */
  storageDType(tensor: number, dtype: DType): DType {
    return this.opts.storageOf?.(tensor) ?? dtype;
  }

  /** Element `idx` (a u32 expression) of a tensor, in its storage type. */
  element(tensor: number, dtype: DType, access: 'read' | 'read_write', idx: string): string {
    dtype = this.storageDType(tensor, dtype);
    const name = this.bind(tensor, dtype, access);
    if (this.opts.vectorPlan?.has(tensor)) return `${name}[(${idx}) >> 2u][(${idx}) & 3u]`;
    return `${name}[${idx}]`;
  }

  /** The vec4 at vector index `idx4` (elements 4·idx4 ..), in its storage type. */
  vector(tensor: number, dtype: DType, access: 'read' | 'read_write', idx4: string): string {
    dtype = this.storageDType(tensor, dtype);
    this.vectorAccessed.add(tensor);
    return `${this.bind(tensor, dtype, access, true)}[${idx4}]`;
  }

  // ---- index expressions ----

  /** The u32 WGSL expression of an index; throws IndexRangeError if it can leave [0, 2^32). */
  ix(x: Ix): string {
    if (!fitsU32(x)) throw new IndexRangeError(`index expression ${x.key} ranges over [${x.lo}, ${x.hi}], outside u32`);
    return this.ixRaw(x);
  }

  /** Like `ix` but without the final range check (for prefixes of sums, which may wrap). */
  private ixRaw(x: Ix): string {
    if (x.isConst) {
      const c = x.constant;
      return c >= 0 ? `${c}u` : `(0u - ${-c}u)`;
    }
    if (x.constant === 0 && x.terms.length === 1 && x.terms[0].coef === 1) return this.atom(x.terms[0].atom);
    const hit = this.lookup(`ix:${x.key}`);
    if (hit !== undefined) return hit;
    // Loop-invariant prefix: the terms below the deepest level, as a temporary of their own.
    let prefix: string | undefined;
    let rest = x.terms;
    let constant = x.constant;
    const low = x.terms.filter((t) => t.atom.level < x.level);
    if (low.length > 0 && x.level > 0) {
      const lowIx = new Ix(x.constant, low);
      prefix = this.ixRaw(lowIx);
      rest = x.terms.filter((t) => t.atom.level === x.level);
      constant = 0;
    }
    const pos: string[] = [];
    const neg: string[] = [];
    if (prefix !== undefined) pos.push(prefix);
    for (const { atom, coef } of rest) {
      const a = this.atom(atom);
      const k = Math.abs(coef);
      const term = k === 1 ? a : `${a} * ${k}u`;
      (coef > 0 ? pos : neg).push(term);
    }
    if (constant > 0) pos.push(`${constant}u`);
    if (constant < 0) neg.push(`${-constant}u`);
    let expr = pos.length > 0 ? pos.join(' + ') : '0u';
    for (const n of neg) expr += ` - ${n}`;
    return this.let(expr, x.level, `ix:${x.key}`, 'n');
  }

  private atom(a: Atom): string {
    if (a.kind === 'var') return a.name;
    const hit = this.lookup(`ix:${a.key}`);
    if (hit !== undefined) return hit;
    const inner = this.ix(a.x);
    let expr: string;
    switch (a.kind) {
      case 'div': expr = `${inner} / ${a.c}u`; break;
      case 'mod': expr = `${inner} % ${a.c}u`; break;
      case 'min': expr = `min(${inner}, ${a.c}u)`; break;
      case 'max': expr = `max(${inner}, ${a.c}u)`; break;
    }
    return this.let(expr, a.level, `ix:${a.key}`, 'n');
  }

  // ---- assembly ----

  /** A tile configuration that exceeds the device is a bug in whoever chose it (not a user error). */
  private checkLimits([x, y, z]: readonly [number, number, number]): void {
    const L = this.opts.limits;
    if (!L) return;
    const bad = (what: string): never => { throw new Error(`kernel exceeds the device: ${what}`); };
    if (x > L.maxComputeWorkgroupSizeX || y > L.maxComputeWorkgroupSizeY || z > L.maxComputeWorkgroupSizeZ) bad(`workgroup size ${x}x${y}x${z}`);
    if (x * y * z > L.maxComputeInvocationsPerWorkgroup) bad(`${x * y * z} invocations per workgroup (limit ${L.maxComputeInvocationsPerWorkgroup})`);
    if (this.sharedBytes > L.maxComputeWorkgroupStorageSize) bad(`${this.sharedBytes} bytes of workgroup memory (limit ${L.maxComputeWorkgroupStorageSize})`);
    // Distinct tensors: a discovery pass may bind one tensor twice (scalar and vec4).
    const tensors = new Set(this.bindings.map((b) => b.tensor)).size;
    if (tensors > L.maxStorageBuffersPerShaderStage) bad(`${tensors} storage buffers (limit ${L.maxStorageBuffersPerShaderStage})`);
  }

  /** Declares a WGSL extension the kernel uses (its `enable` directive). */
  enable(ext: WgslExtension): void {
    this.extensions.add(ext);
  }

  /** The whole module: header comment, enables, bindings, module declarations, helpers, main. */
  finish(opts: { header: string; workgroupSize: readonly [number, number, number]; builtins: string }): string {
    if (this.scopes.length !== 1) throw new Error('KernelWriter: unclosed scope');
    this.checkLimits(opts.workgroupSize);
    const out: string[] = [opts.header];
    const enables = [...(this.usesF16 ? ['f16'] : []), ...this.extensions];
    if (enables.length) out.push(...enables.map((e) => `enable ${e};`), '');
    this.bindings.forEach((b, i) => {
      const acc = b.access === 'read' ? 'read' : 'read_write';
      const elem = b.vec4 ? `vec4<${storageType(b.dtype)}>` : storageType(b.dtype);
      out.push(`@group(0) @binding(${i}) var<storage, ${acc}> ${b.name}: array<${elem}>;`);
    });
    if (this.moduleDecls.length) out.push('', ...this.moduleDecls);
    // Literals of non-finite floats call kiln_bits wherever they appear.
    if ([...this.scopes[0].lines, ...this.moduleDecls].some((l) => l.includes('kiln_bits('))) this.helpers.add('bits');
    const helpers = helperSource(this.helpers);
    if (helpers) out.push('', helpers);
    const [x, y, z] = opts.workgroupSize;
    out.push('', `@compute @workgroup_size(${x}, ${y}, ${z})`, `fn main(${opts.builtins}) {`);
    // Every bound buffer holds at least one element, so this is 0, but only at run time
    // (shift or mask tricks are not enough: LLVM knows arrayLength is a byte size / 4).
    if (this.usesZero) out.push(`  let kiln_zero = select(0u, 1u, arrayLength(&${this.bindings[0].name}) == 0u);`);
    for (const l of this.scopes[0].lines) out.push(`  ${l}`);
    out.push('}', '');
    return out.join('\n');
  }
}
