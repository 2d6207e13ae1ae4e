/**
 * The hand-written baselines for the matmul figure: C[M, N] = A[M, K] · B[K, N], row-major
 * f32, written directly in WGSL. The figure keeps the fastest variant on the adapter at hand.
 *
 * Register-tiled variants (`kind: 'registers'`, what suits a load-bound CPU adapter):
 * - Each thread owns RM rows × 4·NV columns of C as RM·NV vec4 accumulators.
 * - The K loop steps by 4: per step the thread loads, for each of its rows, one aligned vec4
 *   of A (four consecutive k), and for each of the four k, NV aligned vec4s of B (its
 *   columns), then does 4·RM·NV vec4 FMAs — every loaded value is used RM or 4·NV times.
 * - The loop bound is hidden behind a run-time zero: LLVM (lavapipe) otherwise unrolls the
 *   constant-trip loop, which costs compile time and, here, run time.
 * Requires K % 4 == 0, N % (4·NV) == 0 and M % RM == 0 (the benchmark's shapes satisfy them).
 *
 * The workgroup-tiled variant (`kind: 'shared'`, the textbook GPU kernel): a workgroup of
 * WGN × WGM threads owns a (WGM·RM) × (WGN·RN) tile of C; per chunk of TK steps of K the
 * threads copy the chunk's rows of A and columns of B into workgroup memory together, then
 * each accumulates its RM × RN outputs from there (rows lid.y + i·WGM and columns
 * lid.x + j·WGN: neighbouring threads read neighbouring words). Requires M, N and K to be
 * multiples of the tile and of TK.
 */

export interface MatmulShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export interface RegisterMatmulVariant {
  readonly kind: 'registers';
  readonly rm: 4 | 8;
  readonly nv: 1 | 2;
  /** Threads per workgroup along column groups and along row groups. */
  readonly wgN: number;
  readonly wgM: number;
}

export interface SharedMatmulVariant {
  readonly kind: 'shared';
  /** Outputs per thread along M and N. */
  readonly rm: number;
  readonly rn: number;
  /** Threads per workgroup along N and M. */
  readonly wgN: number;
  readonly wgM: number;
  /** Steps of K per chunk held in workgroup memory. */
  readonly tk: number;
}

export type MatmulVariant = RegisterMatmulVariant | SharedMatmulVariant;

export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  { kind: 'registers', rm: 8, nv: 1, wgN: 8, wgM: 8 },
  { kind: 'registers', rm: 4, nv: 2, wgN: 8, wgM: 8 },
  { kind: 'registers', rm: 8, nv: 2, wgN: 8, wgM: 8 },
  { kind: 'shared', rm: 4, rn: 4, wgN: 16, wgM: 16, tk: 16 },
];

export function describeMatmulVariant(v: MatmulVariant): string {
  return v.kind === 'registers'
    ? `(${v.rm} rows x ${4 * v.nv} columns per thread)`
    : `(workgroup tiles ${v.wgM * v.rm}x${v.wgN * v.rn} in workgroup memory, K in chunks of ${v.tk}, ${v.rm}x${v.rn} per thread)`;
}

export function matmulBaselineProblem(s: MatmulShape, v: MatmulVariant): string | undefined {
  if (v.kind === 'shared') {
    const [tm, tn] = [v.wgM * v.rm, v.wgN * v.rn];
    if (s.m % tm !== 0 || s.n % tn !== 0 || s.k % v.tk !== 0) return `M, N, K ${s.m}, ${s.n}, ${s.k} are not multiples of ${tm}, ${tn}, ${v.tk}`;
    return undefined;
  }
  if (s.k % 4 !== 0) return `K ${s.k} is not a multiple of 4`;
  if (s.n % (4 * v.nv) !== 0) return `N ${s.n} is not a multiple of ${4 * v.nv}`;
  if (s.m % v.rm !== 0) return `M ${s.m} is not a multiple of ${v.rm}`;
  return undefined;
}

export function matmulBaselineGrid(s: MatmulShape, v: MatmulVariant): [number, number, number] {
  if (v.kind === 'shared') return [s.n / (v.wgN * v.rn), s.m / (v.wgM * v.rm), 1];
  return [Math.ceil(s.n / (4 * v.nv) / v.wgN), Math.ceil(s.m / v.rm / v.wgM), 1];
}

/** Bindings: 0 A [M, K], 1 B [K, N], 2 C [M, N] (as vec4 arrays, or f32 for the shared variant: the same bytes). */
export function matmulBaselineWgsl(s: MatmulShape, v: MatmulVariant): string {
  const problem = matmulBaselineProblem(s, v);
  if (problem) throw new Error(`matmul baseline: ${problem}`);
  return v.kind === 'shared' ? sharedWgsl(s, v) : registerWgsl(s, v);
}

function registerWgsl(s: MatmulShape, v: RegisterMatmulVariant): string {
  const { m: M, k: K, n: N } = s;
  const { rm: RM, nv: NV } = v;
  const k4 = K / 4;
  const n4 = N / 4;
  const lines: string[] = [];
  for (let i = 0; i < RM; i++) for (let j = 0; j < NV; j++) lines.push(`var c${i}_${j} = vec4<f32>(0.0);`);
  const body: string[] = [];
  for (let i = 0; i < RM; i++) body.push(`let a${i} = a[(r0 + ${i}u) * ${k4}u + kk];`);
  for (let q = 0; q < 4; q++) for (let j = 0; j < NV; j++) body.push(`let b${q}_${j} = b[(kk * 4u + ${q}u) * ${n4}u + g * ${NV}u + ${j}u];`);
  for (let i = 0; i < RM; i++) {
    for (let q = 0; q < 4; q++) for (let j = 0; j < NV; j++) body.push(`c${i}_${j} = fma(vec4<f32>(a${i}.${'xyzw'[q]}), b${q}_${j}, c${i}_${j});`);
  }
  const store: string[] = [];
  for (let i = 0; i < RM; i++) for (let j = 0; j < NV; j++) store.push(`c[(r0 + ${i}u) * ${n4}u + g * ${NV}u + ${j}u] = c${i}_${j};`);
  const ind = (ls: readonly string[], n: number): string => ls.map((l) => `${' '.repeat(n)}${l}`).join('\n');
  return `// Hand-written baseline: matmul ${M}x${K} @ ${K}x${N}, ${RM} rows x ${4 * NV} columns per thread, vec4 loads.
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size(${v.wgN}, ${v.wgM}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  let rg = gid.y;
  if (g >= ${N / (4 * NV)}u || rg >= ${M / RM}u) { return; }
  let r0 = rg * ${RM}u;
  let zero = select(0u, 1u, arrayLength(&a) == 0u);
${ind(lines, 2)}
  for (var kk = 0u; kk < ${k4}u + zero; kk++) {
${ind(body, 4)}
  }
${ind(store, 2)}
}
`;
}

function sharedWgsl(s: MatmulShape, v: SharedMatmulVariant): string {
  const { m: M, k: K, n: N } = s;
  const { rm: RM, rn: RN, wgM: WM, wgN: WN, tk: TK } = v;
  const [TM, TN, threads] = [WM * RM, WN * RN, WM * WN];
  const acc: string[] = [];
  const step: string[] = [];
  const store: string[] = [];
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) acc.push(`var c${i}_${j} = 0.0f;`);
  for (let i = 0; i < RM; i++) step.push(`let a${i} = tileA[(lid.y + ${i * WM}u) * ${TK}u + kk];`);
  for (let j = 0; j < RN; j++) step.push(`let b${j} = tileB[kk * ${TN}u + lid.x + ${j * WN}u];`);
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) step.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) store.push(`c[(row0 + lid.y + ${i * WM}u) * ${N}u + col0 + lid.x + ${j * WN}u] = c${i}_${j};`);
  const ind = (ls: readonly string[], n: number): string => ls.map((l) => `${' '.repeat(n)}${l}`).join('\n');
  return `// Hand-written baseline: matmul ${M}x${K} @ ${K}x${N}, ${TM}x${TN} workgroup tiles in workgroup memory, K in chunks of ${TK}, ${RM}x${RN} per thread.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;

var<workgroup> tileA: array<f32, ${TM * TK}>;
var<workgroup> tileB: array<f32, ${TK * TN}>;

@compute @workgroup_size(${WN}, ${WM}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * ${TM}u;
  let col0 = wid.x * ${TN}u;
${ind(acc, 2)}
  for (var k0 = 0u; k0 < ${K}u; k0 += ${TK}u) {
    for (var i = li; i < ${TM * TK}u; i += ${threads}u) {
      tileA[i] = a[(row0 + i / ${TK}u) * ${K}u + k0 + i % ${TK}u];
    }
    for (var i = li; i < ${TK * TN}u; i += ${threads}u) {
      tileB[i] = b[(k0 + i / ${TN}u) * ${N}u + col0 + i % ${TN}u];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
${ind(step, 6)}
    }
    workgroupBarrier();
  }
${ind(store, 2)}
}
`;
}

export const matmulFlops = (s: MatmulShape): number => 2 * s.m * s.k * s.n;
