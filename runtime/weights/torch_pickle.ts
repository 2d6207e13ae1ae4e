/**
 * What a `torch.save` pickle may contain, and the stand-ins Kiln substitutes: the allowlist of
 * Python globals (OrderedDict, torch's tensor/parameter rebuild functions, storage classes,
 * dtypes, torch.Size), the persistent ids that name storages, and TensorRecord — a tensor as a
 * view (offset, size, stride) into a storage, known before any tensor data is read.
 *
 * Nothing here calls Python: each allowed global maps to our own small function or to an inert
 * marker value, and every other global is refused by the unpickler.
 */
import { STORAGE_BYTES, type StorageDType } from '../tensor.ts';
import { PytorchCheckpointError } from './errors.ts';
import { PyCallable, describe, unpickle } from './pickle.ts';

/** One storage of the archive (entry `data/<key>`), as the pickle describes it. */
export class StorageRecord {
  constructor(
    readonly key: string,
    /** Element type of a typed storage; undefined for an untyped (byte) storage. */
    readonly dtype: StorageDType | undefined,
    readonly byteLength: number,
    /** Where it lived when saved ("cpu", "cuda:0"): informative only, data is read the same way. */
    readonly location: string,
  ) {}
}

/** A tensor as a strided view into a storage. `offset` and `stride` count elements of `dtype`. */
export class TensorRecord {
  constructor(
    readonly storage: StorageRecord,
    readonly dtype: StorageDType,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** Marker for a torch storage class such as torch.FloatStorage; dtype null = known but unsupported. */
class StorageType {
  constructor(readonly qualname: string, readonly dtype: StorageDType | 'untyped' | null) {}
}

/** Marker for a torch dtype global such as torch.float16; dtype null = known but unsupported. */
export class TorchDType {
  constructor(readonly qualname: string, readonly dtype: StorageDType | null) {}
}

/** Marker for torch.Tensor / torch.nn.parameter.Parameter as a type argument. */
class TensorClass {
  constructor(readonly qualname: string) {}
}

const STORAGE_CLASSES: ReadonlyArray<[string, StorageDType | null]> = [
  ['DoubleStorage', 'F64'], ['FloatStorage', 'F32'], ['HalfStorage', 'F16'], ['BFloat16Storage', 'BF16'],
  ['LongStorage', 'I64'], ['IntStorage', 'I32'], ['ShortStorage', 'I16'], ['CharStorage', 'I8'],
  ['ByteStorage', 'U8'], ['BoolStorage', 'BOOL'],
  ['ComplexDoubleStorage', null], ['ComplexFloatStorage', null], ['QInt8Storage', null], ['QUInt8Storage', null],
  ['QInt32Storage', null], ['QUInt4x2Storage', null], ['QUInt2x4Storage', null],
];

const DTYPES: ReadonlyArray<[string, StorageDType | null]> = [
  ['float64', 'F64'], ['double', 'F64'], ['float32', 'F32'], ['float', 'F32'], ['float16', 'F16'], ['half', 'F16'],
  ['bfloat16', 'BF16'], ['int64', 'I64'], ['long', 'I64'], ['int32', 'I32'], ['int', 'I32'], ['int16', 'I16'],
  ['short', 'I16'], ['int8', 'I8'], ['uint8', 'U8'], ['bool', 'BOOL'],
  ['complex32', null], ['chalf', null], ['complex64', null], ['cfloat', null], ['complex128', null], ['cdouble', null],
  ['uint16', null], ['uint32', null], ['uint64', null], ['float8_e4m3fn', null], ['float8_e5m2', null],
  ['float8_e4m3fnuz', null], ['float8_e5m2fnuz', null], ['qint8', null], ['quint8', null], ['qint32', null],
  ['quint4x2', null], ['quint2x4', null],
];

/** torch rebuild functions for tensor kinds Kiln does not read: refused with a specific reason. */
const UNSUPPORTED_TENSOR_KINDS: ReadonlyMap<string, string> = new Map([
  ['torch._utils._rebuild_qtensor', 'a quantized tensor'],
  ['torch._utils._rebuild_sparse_tensor', 'a sparse tensor'],
  ['torch._utils._rebuild_sparse_csr_tensor', 'a sparse CSR tensor'],
  ['torch._utils._rebuild_nested_tensor', 'a nested tensor'],
  ['torch._utils._rebuild_meta_tensor_no_storage', 'a meta tensor (shape only, no data)'],
  ['torch._utils._rebuild_wrapper_subclass', 'a tensor subclass'],
  ['torch._utils._rebuild_device_tensor_from_numpy', 'a tensor rebuilt from a numpy array'],
]);

export interface TorchPickleContext {
  /** Names the pickle in messages about malformed records. */
  readonly label: string;
  /** Names the file in security refusals. */
  readonly file: string;
}

/**
 * Decodes a torch.save `data.pkl` into plain values in which every tensor is a TensorRecord.
 * `storages` collects each storage named by a persistent id.
 */
export function unpickleTorch(bytes: Uint8Array, ctx: TorchPickleContext): { value: unknown; storages: Map<string, StorageRecord> } {
  const fail = (msg: string): never => {
    throw new PytorchCheckpointError(`${ctx.label}: ${msg}`);
  };
  const storages = new Map<string, StorageRecord>();
  const globals = allowedGlobals(fail);

  const persistentLoad = (pid: unknown): StorageRecord => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) {
      return fail(`persistent id ${short(pid)} is not a storage reference ('storage', type, key, location, size).`);
    }
    const [, type, key, location, numel] = pid as unknown[];
    if (!(type instanceof StorageType)) return fail(`storage reference ${short(pid)} has no torch storage class as its type.`);
    if (type.dtype === null) return fail(`storage ${JSON.stringify(key)} has type ${type.qualname}, a dtype Kiln does not read (it reads float64/32/16, bfloat16, int64/32/16/8, uint8 and bool).`);
    if (typeof key !== 'string' || typeof location !== 'string' || !isCount(numel)) {
      return fail(`storage reference ${short(pid)} needs a string key, a string location and a non-negative integer size.`);
    }
    const dtype = type.dtype === 'untyped' ? undefined : type.dtype;
    const byteLength = (numel as number) * (dtype ? STORAGE_BYTES[dtype] : 1);
    const seen = storages.get(key);
    if (seen && (seen.dtype !== dtype || seen.byteLength !== byteLength)) {
      return fail(`storage ${JSON.stringify(key)} is referenced both as ${seen.dtype ?? 'bytes'} (${seen.byteLength} bytes) and as ${dtype ?? 'bytes'} (${byteLength} bytes); Kiln does not reinterpret storages.`);
    }
    const record = seen ?? new StorageRecord(key, dtype, byteLength, location);
    storages.set(key, record);
    return record;
  };

  const value = unpickle(bytes, {
    label: ctx.label,
    file: ctx.file,
    resolveGlobal: (module, name) => {
      const qualname = `${module}.${name}`;
      const why = UNSUPPORTED_TENSOR_KINDS.get(qualname);
      if (why) fail(`it holds ${why} (${qualname}), which Kiln does not read; convert it to a plain dense tensor before saving.`);
      return globals.get(qualname);
    },
    persistentLoad,
    // BUILD sets Python attributes: on dicts that is state_dict()'s `_metadata` (module
    // versions), on tensors their Python state; neither changes tensor data, so both are dropped.
    build: (obj) => {
      if (!(obj instanceof Map) && !(obj instanceof TensorRecord)) fail(`BUILD on ${describe(obj)}: only dicts and tensors may carry state.`);
    },
  });
  return { value, storages };
}

function allowedGlobals(fail: (msg: string) => never): ReadonlyMap<string, unknown> {
  const g = new Map<string, unknown>();
  const rebuilds = new Set<PyCallable>();
  const fn = (qualname: string, call: (args: readonly unknown[]) => unknown, isRebuild = false) => {
    const c = new PyCallable(qualname, (args) => call(args));
    if (isRebuild) rebuilds.add(c);
    g.set(qualname, c);
  };

  fn('collections.OrderedDict', (args) => {
    const map = new Map<unknown, unknown>();
    if (args.length === 0) return map;
    const [pairs] = args;
    if (args.length !== 1 || !Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) {
      fail(`collections.OrderedDict called with ${short(args)}; expected no arguments or a list of (key, value) pairs.`);
    }
    for (const [k, v] of pairs as unknown[][]) map.set(k, v);
    return map;
  });

  const tensorArgs = (qualname: string, args: readonly unknown[], dtypeOverride?: unknown): TensorRecord => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRecord)) return fail(`${qualname} was given ${describe(storage)} instead of a storage.`);
    if (!isCount(offset)) return fail(`${qualname}: storage offset ${short(offset)} is not a non-negative integer.`);
    if (!isCountList(size) || !isCountList(stride) || size.length !== stride.length) {
      return fail(`${qualname}: size ${short(size)} and stride ${short(stride)} must be equally long lists of non-negative integers.`);
    }
    let dtype = storage.dtype;
    if (dtypeOverride !== undefined) {
      if (!(dtypeOverride instanceof TorchDType)) return fail(`${qualname}: ${describe(dtypeOverride)} is not a torch dtype.`);
      if (dtypeOverride.dtype === null) return fail(`${qualname}: dtype ${dtypeOverride.qualname} is not one Kiln reads.`);
      dtype = dtypeOverride.dtype;
    }
    if (dtype === undefined) return fail(`${qualname}: storage ${JSON.stringify(storage.key)} is untyped and no dtype was given.`);
    return new TensorRecord(storage, dtype, offset as number, [...size], [...stride]);
  };
  const arity = (qualname: string, args: readonly unknown[], ...allowed: number[]) => {
    if (!allowed.includes(args.length)) fail(`${qualname} called with ${args.length} arguments; expected ${allowed.join(' or ')}.`);
  };

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
  fn('torch._utils._rebuild_tensor_v2', (a) => (arity('_rebuild_tensor_v2', a, 6, 7), tensorArgs('_rebuild_tensor_v2', a)), true);
  // _rebuild_tensor(storage, offset, size, stride): torch before 1.0
  fn('torch._utils._rebuild_tensor', (a) => (arity('_rebuild_tensor', a, 4), tensorArgs('_rebuild_tensor', a)), true);
  // _rebuild_tensor_v3(untyped storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
  fn('torch._utils._rebuild_tensor_v3', (a) => (arity('_rebuild_tensor_v3', a, 7, 8), tensorArgs('_rebuild_tensor_v3', a, a[6])), true);
  const parameter = (qualname: string, n: number) => (a: readonly unknown[]) => {
    arity(qualname, a, n);
    if (!(a[0] instanceof TensorRecord)) fail(`${qualname} was given ${describe(a[0])} instead of a tensor.`);
    return a[0];
  };
  fn('torch._utils._rebuild_parameter', parameter('_rebuild_parameter', 3), true);
  fn('torch._utils._rebuild_parameter_with_state', parameter('_rebuild_parameter_with_state', 4), true);
  // _rebuild_from_type_v2(func, new_type, args, state): a Tensor/Parameter carrying Python state.
  fn('torch._tensor._rebuild_from_type_v2', (a) => {
    arity('_rebuild_from_type_v2', a, 4);
    const [func, type, args] = a;
    if (!(func instanceof PyCallable) || !rebuilds.has(func)) fail(`_rebuild_from_type_v2 was given ${describe(func)} instead of a tensor rebuild function.`);
    if (!(type instanceof TensorClass)) fail(`_rebuild_from_type_v2 was given type ${describe(type)}; only torch.Tensor and Parameter are read.`);
    if (!Array.isArray(args)) fail('_rebuild_from_type_v2 was given no argument tuple.');
    return (func as PyCallable).call(args as unknown[]);
  });
  fn('torch.Size', (a) => {
    if (a.length !== 1 || !isCountList(a[0])) fail(`torch.Size called with ${short(a)}; expected one tuple of non-negative integers.`);
    return Object.freeze([...(a[0] as number[])]);
  });
  g.set('torch.Tensor', new TensorClass('torch.Tensor'));
  g.set('torch.nn.parameter.Parameter', new TensorClass('torch.nn.parameter.Parameter'));
  for (const [name, dtype] of STORAGE_CLASSES) g.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));
  for (const q of ['torch.UntypedStorage', 'torch.storage.UntypedStorage', 'torch.TypedStorage', 'torch.storage.TypedStorage']) {
    g.set(q, new StorageType(q, 'untyped'));
  }
  for (const [name, dtype] of DTYPES) g.set(`torch.${name}`, new TorchDType(`torch.${name}`, dtype));
  return g;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isCountList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isCount);

function short(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint' ? String(x) : x instanceof Map ? Object.fromEntries([...x].map(([k, y]) => [String(k), y])) : x instanceof PyCallable ? x.qualname : (x as { qualname?: string })?.qualname ?? x);
  return (text ?? String(v)).slice(0, 120);
}
