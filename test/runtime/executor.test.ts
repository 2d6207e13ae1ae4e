/**
 * The executor on the real Dawn device (lavapipe on CPU-only machines): hand-written programs
 * run end to end, compared with values computed here with plain loops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledProgram } from '../../compiler/kernel.ts';
import { releaseDevice, type KilnDevice } from '../../runtime/device.ts';
import { GpuTensor } from '../../runtime/executor.ts';
import { InputMismatchError, KernelError, MissingFeatureError, ResourceLimitError, WeightMismatchError } from '../../runtime/gpu/errors.ts';
import { formatProfile } from '../../runtime/gpu/profile.ts';
import { halfToFloat, type HostTensor } from '../../runtime/tensor.ts';
import { deviceOrUndefined, NO_ADAPTER } from './gpu-available.ts';
import { after, elementwise, program, programA, programB, programC } from './programs.ts';

const dev = await deviceOrUndefined();

const N = 300; // not a multiple of the 64-lane workgroup
const xs = Float32Array.from({ length: N }, (_, i) => (i % 17) / 4 - 2);
const ws = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 3);
const f32 = (data: Float32Array): HostTensor => ({ dtype: 'F32', shape: [data.length], data });

// Expected values, computed directly.
const expT = Array.from(xs, (x) => x * 2);
const expY = expT.map((t, i) => t + ws[i]);
const expZ = expY.map((y, i) => y * y - xs[i]);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol * (1 + Math.abs(expected[i]))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

describe.skipIf(!dev)(dev ? 'executor on a real WebGPU device' : `executor: ${NO_ADAPTER}`, () => {
  let d: KilnDevice;
  beforeAll(() => {
    d = dev!;
    d.setWeights(new Map([['layer.weight', f32(ws)]]));
  });
  afterAll(async () => {
    await releaseDevice();
  });

  it('runs a three-kernel program end to end', async () => {
    const r = await d.run(programA(N), { x: f32(xs) }, { readback: 'all' });
    expect(Object.keys(r.outputs).sort()).toEqual(['y', 'z']);
    expect(r.outputs.y.dtype).toBe('F32');
    expect(r.outputs.y.shape).toEqual([N]);
    expectClose(r.outputs.y.data as Float32Array, expY);
    expectClose(r.outputs.z.data as Float32Array, expZ);
    r.release();
  });

  it('reads back only the outputs asked for', async () => {
    const r = await d.run(programA(N), { x: f32(xs) }, { readback: ['z'] });
    expect(Object.keys(r.outputs)).toEqual(['z']);
    expectClose(r.outputs.z.data as Float32Array, expZ);
    r.release();
    const none = await d.run(programA(N), { x: f32(xs) });
    expect(Object.keys(none.outputs)).toEqual([]);
    none.release();
  });

  it('reuses pooled arenas and input buffers across runs', async () => {
    const A = programA(N);
    (await d.run(A, { x: f32(xs) }, { readback: ['y'] })).release();
    const before = d.pool.stats;
    const r = await d.run(A, { x: f32(xs) }, { readback: ['y'] });
    r.release();
    const afterRun = d.pool.stats;
    // Two arenas, one input buffer, one staging buffer: all served from free lists.
    expect(afterRun.misses).toBe(before.misses);
    expect(afterRun.hits - before.hits).toBe(4);
    expect(afterRun.inUse).toBe(0);
  });

  it('uploads a weight once and shares it between programs', async () => {
    const uploadsBefore = d.weights.stats.uploads;
    d.setWeights(new Map([['layer.weight', f32(ws)]])); // a fresh set: nothing resident
    const a = await d.run(programA(N), { x: f32(xs) }, { readback: ['y'] });
    const b = await d.run(programB(N), { x: f32(xs) }, { readback: ['o'] });
    expect(d.weights.stats.uploads - uploadsBefore).toBe(1);
    expect(d.weights.stats.resident).toBe(1);
    expectClose(a.outputs.y.data as Float32Array, expY);
    expectClose(b.outputs.o.data as Float32Array, Array.from(xs, (x, i) => x * ws[i]));
    a.release();
    b.release();
  });

  it('sees new weights after setWeights, on a program that already ran', async () => {
    const A = programA(N);
    (await d.run(A, { x: f32(xs) })).release();
    const ws2 = Float32Array.from(ws, (w) => -2 * w);
    d.setWeights(new Map([['layer.weight', f32(ws2)]]));
    const r = await d.run(A, { x: f32(xs) }, { readback: ['y'] });
    expectClose(r.outputs.y.data as Float32Array, expT.map((t, i) => t + ws2[i]));
    r.release();
    d.setWeights(new Map([['layer.weight', f32(ws)]]));
  });

  it('reads weights through a source with read(key), converting F16 to f32 storage', async () => {
    const half = Uint16Array.from([0x3c00, 0xc000, 0x3800]); // 1, -2, 0.5
    const reads: string[] = [];
    d.setWeights({ read: (key) => { reads.push(key); return key === 'layer.weight' ? { dtype: 'F16', shape: [3], data: half } : undefined; } });
    const r = await d.run(programB(3), { x: f32(Float32Array.from([4, 5, 6])) }, { readback: ['o'] });
    expect(Array.from(r.outputs.o.data as Float32Array)).toEqual([4, -10, 3]);
    expect(reads).toEqual(['layer.weight']);
    r.release();
    d.setWeights(new Map([['layer.weight', f32(ws)]]));
  });
  it('tells onUpload about each weight a run uploads, and nothing for weights already resident', async () => {
    const told: string[] = [];
    d.setWeights(new Map([['layer.weight', f32(ws)]]));
    d.weights.onUpload = (p) => told.push(`${p.key} ${p.done}/${p.total} ${p.doneBytes}/${p.totalBytes}`);
    try {
      (await d.run(programA(N), { x: f32(xs) })).release();
      (await d.run(programB(N), { x: f32(xs) })).release(); // the same key: already on the GPU
    } finally {
      d.weights.onUpload = undefined;
    }
    expect(told).toEqual([`layer.weight 1/1 ${4 * N}/${4 * N}`]);
  });

  it('lets a weight source run programs while a run waits for its weights (they go first)', async () => {
    const v = f32(Float32Array.from([0.25, 2, -1]));
    d.setWeights({
      read: async (key) => {
        // The weight is made by another program on the same device: 1 - v.
        const made = await d.run(programC(3), { v }, { readback: ['out'] });
        const out = made.outputs.out;
        made.release();
        return key === 'layer.weight' ? out : undefined;
      },
    });
    const r = await d.run(programB(3), { x: f32(Float32Array.from([4, 5, 6])) }, { readback: ['o'] });
    expect(Array.from(r.outputs.o.data as Float32Array)).toEqual([3, -5, 12]);
    r.release();
    d.setWeights(new Map([['layer.weight', f32(ws)]]));
  });


  it('chains runs through GpuTensors without reading back', async () => {
    const r1 = await d.run(programA(N), { x: f32(xs) });
    const z = r1.take('z');
    r1.release(); // z keeps its arena alive
    expect(z).toBeInstanceOf(GpuTensor);
    const r2 = await d.run(programC(N), { v: z }, { readback: ['out'] });
    expectClose(r2.outputs.out.data as Float32Array, expZ.map((v) => 1 - v));
    // The arena z lives in was not handed to run 2 while z was held.
    expect(d.pool.stats.inUse).toBeGreaterThanOrEqual(2);
    expectClose((await d.executor.read(z)).data as Float32Array, expZ);
    z.release();
    r2.release();
    expect(() => z.buffer).toThrow(/after release/);
    expect(d.pool.stats.inUse).toBe(0);
    await expect(d.run(programC(N), { v: z })).rejects.toThrow(InputMismatchError);
  });

  it('reports the memory plan before running', async () => {
    const A = programA(N);
    const seen: number[] = [];
    const r = await d.run(A, { x: f32(xs) }, { onPlan: (plan) => seen.push(plan.peakBytes) });
    expect(seen).toEqual([A.plan.peakBytes]);
    expect(r.peakBytes).toBe(A.plan.peakBytes);
    r.release();
  });

  it('profiles one entry per kernel, with timestamps when available and by wall clock on request', async () => {
    const r = await d.run(programA(N), { x: f32(xs) }, { profile: true, readback: ['z'] });
    expect(r.profile!.map((p) => p.kernel)).toEqual(['k00_scale', 'k01_add', 'k02_square']);
    expect(r.profileMethod).toBe(d.target.features.timestampQuery ? 'timestamp' : 'wall');
    for (const p of r.profile!) expect(p.ms).toBeGreaterThanOrEqual(0);
    expectClose(r.outputs.z.data as Float32Array, expZ); // profiling does not change results
    const table = formatProfile(r.profile!, r.profileMethod);
    for (const k of ['k00_scale', 'k01_add', 'k02_square', 'total']) expect(table).toContain(k);
    r.release();
    const w = await d.run(programA(N), { x: f32(xs) }, { profile: 'wall', readback: ['y'] });
    expect(w.profileMethod).toBe('wall');
    expect(w.profile!).toHaveLength(3);
    expect(w.profile!.every((p) => p.ms > 0)).toBe(true);
    expectClose(w.outputs.y.data as Float32Array, expY);
    w.release();
  });

  it('reports a WGSL compile error as a KernelError naming the kernel, its source ops and line', async () => {
    const A = programA(N);
    const broken: CompiledProgram = { ...A, kernels: A.kernels.map((k) => (k.name === 'k01_add' ? { ...k, wgsl: k.wgsl.replace('t[i] + w[i]', 't[i] + undefined_thing') } : k)) };
    const err = await d.run(broken, { x: f32(xs) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    const k = err as KernelError;
    expect(k.kernel).toBe('k01_add');
    expect(k.failure).toBe('compilation');
    expect(k.message).toContain("Kernel 'k01_add' failed to compile");
    expect(k.message).toContain('+ @ a.forward (a.kiln:3:7)');
    expect(k.message).toContain('undefined_thing');
    const line = broken.kernels[1].wgsl.split('\n').findIndex((l) => l.includes('undefined_thing')) + 1;
    expect(k.wgslLine).toBe(line);
    expect(d.pool.stats.inUse).toBe(0); // nothing leaked by the failed run
  });

  it('reports a layout/shader mismatch as a KernelError naming the kernel', async () => {
    // The WGSL declares the input read_write, the binding says read: pipeline validation fails.
    const C = programC(8);
    const bad: CompiledProgram = { ...C, kernels: [{ ...C.kernels[0], wgsl: C.kernels[0].wgsl.replace('var<storage, read> v', 'var<storage, read_write> v') }] };
    const err = await d.run(bad, { v: f32(new Float32Array(8)) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kernel).toBe('k00_one_minus');
    expect((err as KernelError).failure).toBe('validation');
    expect((err as Error).message).toContain('one_minus @ test.forward');
  });

  it('pins a validation error found at submit on the kernel that caused it', async () => {
    // Two inputs given the same GpuTensor, one bound writable: only Dawn can see the aliasing.
    const n = 16;
    const p = program(
      [
        { id: 0, role: 'input', name: 'a', shape: [n] },
        { id: 1, role: 'input', name: 'b', shape: [n] },
        { id: 2, role: 'output', name: 'o', shape: [n], at: { arena: 0, offset: 0 } },
      ],
      [
        elementwise('k00_copy', n, [{ tensor: 0, access: 'read', varName: 'a' }, { tensor: 2, access: 'read_write', varName: 'o' }], 'o[i] = a[i];'),
        elementwise('k01_scribble', n, [{ tensor: 0, access: 'read', varName: 'a' }, { tensor: 1, access: 'read_write', varName: 'b' }], 'b[i] = a[i] + 1.0;', ['scribble @ bad.forward (bad.kiln:9:9)']),
      ],
      [256],
    );
    const shared = d.executor.upload(f32(new Float32Array(n)), 'f32', 'shared');
    const err = await d.run(p, { a: shared, b: shared }).catch((e: unknown) => e);
    shared.release();
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kernel).toBe('k01_scribble');
    expect((err as KernelError).failure).toBe('validation');
    expect((err as Error).message).toContain('scribble @ bad.forward (bad.kiln:9:9)');
    expect(d.pool.stats.inUse).toBe(0);
  });

  it('rejects a tensor larger than the binding limit before creating anything', async () => {
    const limit = d.target.limits.maxStorageBufferBindingSize;
    const n = limit / 4 + 64;
    const huge = program(
      [
        { id: 0, role: 'input', name: 'v', shape: [16] },
        { id: 1, role: 'output', name: 'big', shape: [n], at: { arena: 0, offset: 0 } },
      ],
      [elementwise('k00_fill', n, [{ tensor: 0, access: 'read', varName: 'v' }, { tensor: 1, access: 'read_write', varName: 'o' }], 'o[i] = v[0];')],
      [n * 4],
    );
    const before = d.pool.stats;
    const err = await d.run(huge, { v: f32(new Float32Array(16)) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceLimitError);
    const e = err as ResourceLimitError;
    expect(e.userFacing).toBe(true);
    expect(e.limit).toBe('maxStorageBufferBindingSize');
    expect(e.message).toContain("'big'");
    expect(e.message).toContain(`[${n}]`);
    expect(e.message).toContain('--tile');
    expect(d.pool.stats).toEqual(before);
  });

  it('checks input names, shapes and weight shapes with clear errors', async () => {
    const A = programA(N);
    await expect(d.run(A, {})).rejects.toThrow(/Missing input 'x'/);
    await expect(d.run(A, { x: f32(xs), extra: f32(xs) })).rejects.toThrow(/Unknown input 'extra'/);
    const wrong = await d.run(A, { x: { dtype: 'F32', shape: [N + 1], data: new Float32Array(N + 1) } }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(InputMismatchError);
    expect((wrong as Error).message).toContain(`[${N + 1}]`);
    await expect(d.run(A, { x: f32(xs) }, { readback: ['t'] })).rejects.toThrow(/not an output/);
    d.setWeights(new Map([['layer.weight', f32(new Float32Array(N + 2))]]));
    const werr = await d.run(A, { x: f32(xs) }).catch((e: unknown) => e);
    expect(werr).toBeInstanceOf(WeightMismatchError);
    expect((werr as Error).message).toContain(`[${N + 2}]`);
    d.setWeights(new Map([['other.weight', f32(ws)]]));
    await expect(d.run(A, { x: f32(xs) })).rejects.toThrow(/'layer.weight' is not in the weight set/);
    d.setWeights(new Map([['layer.weight', f32(ws)]]));
    expect(d.pool.stats.inUse).toBe(0);
  });

  it('makes a read binding read_write when a kernel reads and writes one arena', async () => {
    // t and y share arena 0: WebGPU would reject read-only + writable bindings of one buffer.
    const n = 100;
    const p = program(
      [
        { id: 0, role: 'input', name: 'x', shape: [n] },
        { id: 1, role: 'intermediate', name: 't', shape: [n], at: { arena: 0, offset: 0 } },
        { id: 2, role: 'output', name: 'y', shape: [n], at: { arena: 0, offset: after(n) } },
      ],
      [
        elementwise('k00_double', n, [{ tensor: 0, access: 'read', varName: 'x' }, { tensor: 1, access: 'read_write', varName: 't' }], 't[i] = x[i] * 2.0;'),
        elementwise('k01_plus_one', n, [{ tensor: 1, access: 'read', varName: 't' }, { tensor: 2, access: 'read_write', varName: 'y' }], 'y[i] = t[i] + 1.0;'),
      ],
      [after(n) * 2],
    );
    const x = Float32Array.from({ length: n }, (_, i) => i - 50);
    const r = await d.run(p, { x: f32(x) }, { readback: ['y'] });
    expect(Array.from(r.outputs.y.data as Float32Array)).toEqual(Array.from(x, (v) => v * 2 + 1));
    expect(d.executor.check(p).kernels[1].promoted).toEqual([0]);
    r.release();
  });

  it('stores i32 and bool tensors as 32-bit words', async () => {
    const n = 10;
    const p = program(
      [
        { id: 0, role: 'input', name: 'a', shape: [n], dtype: 'i32' },
        { id: 1, role: 'output', name: 'neg', shape: [n], dtype: 'bool', at: { arena: 0, offset: 0 } },
        { id: 2, role: 'output', name: 'sq', shape: [n], dtype: 'i32', at: { arena: 0, offset: 256 } },
      ],
      [elementwise('k00_int', n, [{ tensor: 0, access: 'read', varName: 'a', type: 'i32' }, { tensor: 1, access: 'read_write', varName: 'neg', type: 'u32' }, { tensor: 2, access: 'read_write', varName: 'sq', type: 'i32' }], 'neg[i] = select(0u, 1u, a[i] < 0); sq[i] = a[i] * a[i];')],
      [512],
    );
    const a = [3, -1, 0, 7, -20, 5, 6, -8, 9, 100000];
    const r = await d.run(p, { a: { dtype: 'I64', shape: [n], data: BigInt64Array.from(a, BigInt) } }, { readback: 'all' });
    expect(r.outputs.neg.dtype).toBe('BOOL');
    expect(Array.from(r.outputs.neg.data as Uint8Array)).toEqual(a.map((v) => (v < 0 ? 1 : 0)));
    expect(r.outputs.sq.dtype).toBe('I32');
    expect(Array.from(r.outputs.sq.data as Int32Array)).toEqual(a.map((v) => (v * v) | 0));
    r.release();
    await expect(d.run(p, { a: f32(Float32Array.from({ length: n }, () => 0.5)) })).rejects.toThrow(/not a 32-bit integer/);
  });

  it('stores f16 tensors as halves when the device has shader-f16, and refuses otherwise', async () => {
    const n = 7; // odd: the f16 buffer is padded to 4 bytes
    const p = program(
      [
        { id: 0, role: 'input', name: 'h', shape: [n], dtype: 'f16' },
        { id: 1, role: 'output', name: 'twice', shape: [n], dtype: 'f16', at: { arena: 0, offset: 0 } },
      ],
      [elementwise('k00_twice_h', n, [{ tensor: 0, access: 'read', varName: 'h', type: 'f16' }, { tensor: 1, access: 'read_write', varName: 'o', type: 'f16' }], 'o[i] = h[i] * 2.0h;')],
      [256],
    );
    // f16 arrays in storage need an even count of halves per binding; 7 halves = 14 bytes -> 16.
    const values = [0.5, -1.25, 3, 1000, 0.1, -0.0009765625, 7];
    if (!d.target.features.shaderF16) {
      await expect(d.run(p, { h: f32(Float32Array.from(values)) })).rejects.toThrow(MissingFeatureError);
      return;
    }
    const r = await d.run(p, { h: f32(Float32Array.from(values)) }, { readback: ['twice'] });
    expect(r.outputs.twice.dtype).toBe('F16');
    const got = Array.from(r.outputs.twice.data as Uint16Array, halfToFloat);
    // Each value is rounded to half on upload (relative error <= 2^-11; 0.1 is not exact), then doubled exactly.
    expect(got.map((g, i) => Math.abs(g - 2 * values[i]) <= 2 * Math.abs(values[i]) * 2 ** -11)).toEqual(values.map(() => true));
    r.release();
  });
});
