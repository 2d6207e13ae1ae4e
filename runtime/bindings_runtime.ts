/**
 * The small runtime that TypeScript bindings emitted by `kiln compile --emit-ts` import. An
 * emitted module describes its entry (source files, entry name, config, the functions and
 * parameter names it was generated for) as a BindingSpec and calls `loadBinding`, which loads
 * the Kiln program, binds the module through ModelSession and calls its functions with inputs
 * given by name.
 *
 * Vocabulary
 * - Tensor: what bindings take and give: a dtype name (`f32`, `i32`, `bool`), a shape tuple and
 *   the typed array of that dtype (Float32Array, Int32Array, Uint8Array holding 0 or 1).
 * - Weights: a checkpoint path (anything loadWeights reads), a weight source, or the tensors
 *   by state-dict key (a Map or a plain object).
 * The emitted types make wrong names, dtypes and ranks compile errors; this runtime checks the
 * same at run time (callers from JavaScript, or shapes only known at run time) with messages
 * that say what was expected.
 */
import { fileURLToPath } from 'node:url';
import { resolveEntry } from '../compiler/bindings/entry.ts';
import { BindingInputError, StaleBindingsError } from '../compiler/bindings/errors.ts';
import { functionSignature, instanceScope, orderArguments, shapeProblem, type FunctionSig, type TensorParam } from '../compiler/bindings/signature.ts';
import { loadProgram } from '../dsl/program.ts';
import { acquireDevice, releaseDevice, type KilnDevice } from './device.ts';
import { ModelSession, weightsFromMap, type BackendName, type CallInput, type SessionWeights } from './model.ts';
import { elementCount, type HostTensor } from './tensor.ts';
import { loadWeights } from './weights/checkpoint.ts';

export { ModelSession } from './model.ts';
export type { HostTensor } from './tensor.ts';

export type DType = 'f32' | 'i32' | 'bool';

export interface DataOf {
  f32: Float32Array;
  i32: Int32Array;
  bool: Uint8Array;
}

export interface Tensor<D extends DType = DType, S extends readonly number[] = readonly number[]> {
  readonly dtype: D;
  readonly shape: S;
  readonly data: DataOf[D];
}

const ARRAYS = { f32: Float32Array, i32: Int32Array, bool: Uint8Array } as const;
const STORAGE = { f32: 'F32', i32: 'I32', bool: 'BOOL' } as const;

/**
 * A tensor of `dtype` and `shape` (the shape's literal type is kept, so it checks against the
 * bindings' shape tuples); `data` is copied into the dtype's array, zeros when left out.
 */
export function tensor<D extends DType, const S extends readonly number[]>(dtype: D, shape: S, data?: ArrayLike<number>): Tensor<D, S> {
  const n = elementCount(shape);
  if (data !== undefined && data.length !== n) throw new BindingInputError(`tensor(${dtype}, [${shape.join(', ')}]): ${data.length} values given for ${n} elements.`);
  const array = new ARRAYS[dtype](n);
  if (data) array.set(Array.from(data, (v) => (dtype === 'bool' ? (v ? 1 : 0) : v)));
  return { dtype, shape, data: array as DataOf[D] };
}

export type WeightTensor = HostTensor | Tensor;

/** Weights by key: a checkpoint path, a source, or the tensors themselves. */
export type Weights<K extends string> =
  | string
  | SessionWeights
  | ReadonlyMap<K, WeightTensor>
  | { readonly [P in K]: WeightTensor };

export interface LoadOptions {
  /** `webgpu` (default): fused WGSL kernels on the GPU. `interp`: the float64 reference interpreter on the CPU. */
  readonly backend?: BackendName;
  /** The device to run on (webgpu); default the process's device, opened on first use and released with the last binding. */
  readonly device?: KilnDevice;
  /** Fuse kernels (default true). */
  readonly fuse?: boolean;
  /** Accept checkpoint keys the module does not use (a whole model's checkpoint for one block). */
  readonly allowUnexpected?: boolean;
}

/** What an emitted module knows about its entry. */
export interface BindingSpec {
  /** The Kiln source files, as `file:` URLs or paths. */
  readonly sources: readonly (string | URL)[];
  /** `Module`, `Module.fn` or a free function. */
  readonly entry: string;
  /** The module's config (JSON values by parameter name). */
  readonly config: object;
  /** The functions the module was generated for, each with its parameter names in order. */
  readonly functions: Readonly<Record<string, readonly string[]>>;
}

export interface LoadedBinding {
  readonly session: ModelSession;
  readonly signatures: ReadonlyMap<string, FunctionSig>;
  /** Calls `fn` with inputs by parameter name; the outputs by name, typed by the caller. */
  call<O>(fn: string, inputs: object): Promise<O>;
  /** Closes a checkpoint opened from a path and lets go of the device if this binding opened it. */
  release(): Promise<void>;
}

let ownedDeviceUsers = 0;

export async function loadBinding(spec: BindingSpec, weights: Weights<string> | undefined, opts: LoadOptions = {}): Promise<LoadedBinding> {
  const paths = spec.sources.map((s) => (s instanceof URL || s.startsWith('file:') ? fileURLToPath(s) : s));
  const entry = resolveEntry(loadProgram(paths), spec.entry);
  const source = weightSource(weights);
  let ownsDevice = false;
  try {
    const backend = opts.backend ?? 'webgpu';
    let device = opts.device;
    if (backend === 'webgpu' && !device) {
      device = await acquireDevice();
      ownsDevice = true;
      ownedDeviceUsers++;
    }
    const session = new ModelSession(entry.program, entry.moduleName, spec.config as Readonly<Record<string, unknown>>, source.weights, {
      backend, device, fuse: opts.fuse, allowUnexpected: opts.allowUnexpected,
    });
    const signatures = new Map<string, FunctionSig>();
    const scope = instanceScope(session.bound.instance);
    for (const [name, params] of Object.entries(spec.functions)) {
      const fn = entry.functions.find((f) => f.name === name);
      const sig = fn && functionSignature(fn, scope);
      const now = sig?.params.map((p) => p.name);
      if (!sig || now!.join() !== params.join()) {
        throw new StaleBindingsError(
          `these bindings were generated for ${spec.entry} with ${name}(${params.join(', ')}), but ${paths.join(', ')} now ${sig ? `declares ${name}(${now!.join(', ')})` : `has no function ${name} in ${spec.entry}`}. ` +
            'Regenerate them with `kiln compile ... --emit-ts`.',
        );
      }
      signatures.set(name, sig);
    }
    let released = false;
    return {
      session,
      signatures,
      async call<O>(fn: string, inputs: object): Promise<O> {
        if (released) throw new BindingInputError(`${spec.entry}: ${fn}() was called after release().`);
        const sig = signatures.get(fn);
        if (!sig) throw new BindingInputError(`${spec.entry} has no bound function ${fn}; it has ${[...signatures.keys()].join(', ')}.`);
        const owner = entry.kind === 'function' ? fn : `${entry.moduleName}.${fn}`;
        const args = callArguments(sig, inputs, owner);
        const result = await session.call(fn, args);
        return outputsOf(sig, result.outputs) as O;
      },
      async release() {
        if (released) return;
        released = true;
        source.close();
        if (ownsDevice && --ownedDeviceUsers === 0) await releaseDevice();
      },
    };
  } catch (err) {
    source.close();
    if (ownsDevice && --ownedDeviceUsers === 0) await releaseDevice();
    throw err;
  }
}

function weightSource(weights: Weights<string> | undefined): { weights: SessionWeights; close(): void } {
  if (weights === undefined) return { weights: weightsFromMap(new Map(), '<no weights>'), close() {} };
  if (typeof weights === 'string') {
    const src = loadWeights(weights);
    return { weights: src, close: () => src.close() };
  }
  if (isSessionWeights(weights)) return { weights, close() {} };
  const entries: [string, WeightTensor][] = weights instanceof Map ? [...weights] : Object.entries(weights);
  return { weights: weightsFromMap(new Map(entries.map(([k, t]) => [k, asHost(t, `weight ${k}`)])), '<weights given to load()>'), close() {} };
}

function isSessionWeights(w: object): w is SessionWeights {
  const s = w as Partial<SessionWeights>;
  return typeof s.keys === 'function' && typeof s.info === 'function' && typeof s.read === 'function';
}

function isBindingTensor(t: WeightTensor): t is Tensor {
  return t.dtype === 'f32' || t.dtype === 'i32' || t.dtype === 'bool';
}

function asHost(t: WeightTensor, what: string): HostTensor {
  if (!isBindingTensor(t)) return t;
  const Array_ = ARRAYS[t.dtype];
  if (!(t.data instanceof Array_)) throw new BindingInputError(`${what}: ${t.dtype === 'bool' ? 'a' : 'an'} ${t.dtype} tensor holds its data in a ${Array_.name}, not a ${describeData(t.data)}.`);
  if (t.data.length !== elementCount(t.shape)) throw new BindingInputError(`${what}: shape [${t.shape.join(', ')}] has ${elementCount(t.shape)} elements but the data holds ${t.data.length}.`);
  return { dtype: STORAGE[t.dtype], shape: [...t.shape], data: t.data };
}

const describeData = (d: unknown): string => (d === null || d === undefined ? String(d) : (d as object).constructor?.name ?? typeof d);

/** Inputs by name → the session's positional arguments, checking dtype, data and shape on the way. */
function callArguments(sig: FunctionSig, inputs: object, owner: string): CallInput[] {
  const given = new Map<string, CallInput>();
  const sizes = new Map<string, { size: number; from: string }>();
  for (const [name, value] of Object.entries(inputs)) {
    const p = sig.params.find((q) => q.name === name);
    // An unknown name is passed on for orderArguments to report with the whole signature.
    if (!p) {
      given.set(name, { value });
      continue;
    }
    if (value === undefined) continue;
    if (p.kind === 'value') {
      given.set(name, { value });
      continue;
    }
    given.set(name, tensorInput(p, value, owner, sizes));
  }
  return orderArguments(sig, given, (json) => ({ value: json }), owner);
}

function tensorInput(p: TensorParam, value: unknown, owner: string, sizes: Map<string, { size: number; from: string }>): HostTensor {
  const t = value as Partial<Tensor>;
  const where = `${owner}: input '${p.name}'`;
  if (typeof t !== 'object' || t === null || !Array.isArray(t.shape) || t.data === undefined) {
    throw new BindingInputError(`${where} must be a tensor { dtype, shape, data } (${p.declared}), not ${describeData(value)}.`);
  }
  if (t.dtype !== p.dtype) throw new BindingInputError(`${where} is ${String(t.dtype)} but the function takes ${p.declared}; convert it to ${p.dtype}.`);
  const host = asHost(t as Tensor, where);
  const problem = shapeProblem(p, host.shape, sizes);
  if (problem) throw new BindingInputError(`${where} [${host.shape.join(', ')}] ${problem}.`);
  return host;
}

function outputsOf(sig: FunctionSig, outputs: Readonly<Record<string, HostTensor>>): Record<string, Tensor> {
  const traced = Object.entries(outputs);
  // Traced outputs come in result order; the signature's names win when the counts agree.
  const names = sig.outputs && sig.outputs.length === traced.length ? sig.outputs.map((o) => o.name) : traced.map(([k]) => k);
  const out: Record<string, Tensor> = {};
  traced.forEach(([, t], i) => { out[names[i]] = fromHost(t); });
  return out;
}

function fromHost(t: HostTensor): Tensor {
  switch (t.dtype) {
    case 'I32': return { dtype: 'i32', shape: [...t.shape], data: t.data as Int32Array };
    case 'BOOL': return { dtype: 'bool', shape: [...t.shape], data: t.data as Uint8Array };
    case 'F32': return { dtype: 'f32', shape: [...t.shape], data: t.data as Float32Array };
    case 'F64': return { dtype: 'f32', shape: [...t.shape], data: Float32Array.from(t.data as Float64Array) };
    default: throw new Error(`internal: a Kiln output came back as ${t.dtype}`);
  }
}
