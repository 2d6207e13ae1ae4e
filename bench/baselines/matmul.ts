/**
 * The hand-written baseline for the matmul figure: C[M, N] = A[M, K] · B[K, N], row-major
 * f32, written directly in WGSL with register tiles:
 *
 * - Each thread owns RM rows × 4·NV columns of C as RM·NV vec4 accumulators.
 * - The K loop steps by 4: per step the thread loads, for each of its rows, one aligned vec4
 *   of A (four consecutive k), and for each of the four k, NV aligned vec4s of B (its
 *   columns), then does 4·RM·NV vec4 FMAs — every loaded value is used RM or 4·NV times.
 * - The loop bound is hidden behind a run-time zero: LLVM (lavapipe) otherwise unrolls the
 *   constant-trip loop, which costs compile time and, here, run time.
 * Requires K % 4 == 0, N % (4·NV) == 0 and M % RM == 0 (the benchmark's shapes satisfy them).
 */

export interface MatmulShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export interface MatmulVariant {
  readonly rm: 4 | 8;
  readonly nv: 1 | 2;
  /** Threads per workgroup along column groups and along row groups. */
  readonly wgN: number;
  readonly wgM: number;
}

export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  { rm: 8, nv: 1, wgN: 8, wgM: 8 },
  { rm: 4, nv: 2, wgN: 8, wgM: 8 },
  { rm: 8, nv: 2, wgN: 8, wgM: 8 },
];

export function matmulBaselineProblem(s: MatmulShape, v: MatmulVariant): string | undefined {
  if (s.k % 4 !== 0) return `K ${s.k} is not a multiple of 4`;
  if (s.n % (4 * v.nv) !== 0) return `N ${s.n} is not a multiple of ${4 * v.nv}`;
  if (s.m % v.rm !== 0) return `M ${s.m} is not a multiple of ${v.rm}`;
  return undefined;
}

export function matmulBaselineGrid(s: MatmulShape, v: MatmulVariant): [number, number, number] {
  return [Math.ceil(s.n / (4 * v.nv) / v.wgN), Math.ceil(s.m / v.rm / v.wgM), 1];
}

/** Bindings: 0 A [M, K] as vec4, 1 B [K, N] as vec4, 2 C [M, N] as vec4. */
export function matmulBaselineWgsl(s: MatmulShape, v: MatmulVariant): string {
  const problem = matmulBaselineProblem(s, v);
  if (problem) throw new Error(`matmul baseline: ${problem}`);
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

export const matmulFlops = (s: MatmulShape): number => 2 * s.m * s.k * s.n;
