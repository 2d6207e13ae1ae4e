/**
 * The hand-written baseline for the conv3d figure: a causal 3-D convolution with bias,
 * y = conv3d(replicate_pad(x, T: (k-1, 0), H: (1, 1), W: (1, 1)), w) + b, for k = 3 and
 * stride 1 — the VAE's CausalConv3d — written directly in WGSL as an implicit GEMM with
 * register tiles, the design a person would write for a load-bound CPU adapter (one variant is
 * shaped for a GPU instead: more threads, fewer outputs each; the figure keeps the fastest):
 *
 * - Each thread owns RM consecutive outputs along W (one row t, h) × 4·NV output channels, as
 *   RM·NV vec4 accumulators.
 * - The weight is laid out on the host once as [Cin, kt, kh, kw, Cout] (channels last), so the
 *   4·NV channels of one tap are NV aligned vec4 loads.
 * - Per (input channel, kt, kh) the thread loads the RM + 2 input values its three kw taps
 *   need once — two aligned vec4 loads for the middle RM = 8 and a scalar at each end, with
 *   replicate padding as clamped indices — and does 3·RM·NV vec4 FMAs from them.
 * - Loop bounds are hidden behind a run-time zero: LLVM (lavapipe) otherwise unrolls the
 *   constant-trip tap loops, which costs compile time and, here, run time.
 * Requires W % RM == 0 (so vec4 loads are aligned and rows split into whole segments) and
 * Cout % (4·NV) == 0; the benchmark's shapes satisfy both.
 */

export interface Conv3dShape {
  readonly cin: number;
  readonly cout: number;
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

export interface Conv3dVariant {
  /** Outputs per thread along W (4 or 8). */
  readonly rm: 4 | 8;
  /** vec4s of output channels per thread. */
  readonly nv: 1 | 2;
  /** Threads per workgroup along channel groups and along row segments. */
  readonly wgC: number;
  readonly wgP: number;
}

export const CONV3D_VARIANTS: readonly Conv3dVariant[] = [
  { rm: 8, nv: 1, wgC: 8, wgP: 8 },
  { rm: 8, nv: 2, wgC: 4, wgP: 16 },
  { rm: 4, nv: 2, wgC: 8, wgP: 8 },
  // Shaped for a GPU: 256 threads of 4 positions x 4 channels each.
  { rm: 4, nv: 1, wgC: 16, wgP: 16 },
];

export function conv3dBaselineProblem(s: Conv3dShape, v: Conv3dVariant): string | undefined {
  if (s.w % v.rm !== 0) return `W ${s.w} is not a multiple of ${v.rm}`;
  if (s.cout % (4 * v.nv) !== 0) return `Cout ${s.cout} is not a multiple of ${4 * v.nv}`;
  return undefined;
}

/** Workgroup counts for the dispatch: [channel-group blocks, position blocks, 1]. */
export function conv3dBaselineGrid(s: Conv3dShape, v: Conv3dVariant): [number, number, number] {
  const groups = s.cout / (4 * v.nv);
  const segments = (s.t * s.h * s.w) / v.rm;
  return [Math.ceil(groups / v.wgC), Math.ceil(segments / v.wgP), 1];
}

/** Bindings: 0 x [Cin, T, H, W] as vec4, 1 weight [Cin, 27, Cout] as vec4, 2 bias [Cout], 3 y [Cout, T, H, W]. */
export function conv3dBaselineWgsl(s: Conv3dShape, v: Conv3dVariant): string {
  const problem = conv3dBaselineProblem(s, v);
  if (problem) throw new Error(`conv3d baseline: ${problem}`);
  const { cin, cout, t: T, h: H, w: W } = s;
  const { rm: RM, nv: NV } = v;
  const groups = cout / (4 * NV);
  const segsPerRow = W / RM;
  const segments = T * H * segsPerRow;
  const acc: string[] = [];
  const fma: string[] = [];
  const store: string[] = [];
  for (let i = 0; i < RM; i++) {
    for (let j = 0; j < NV; j++) {
      acc.push(`var a${i}_${j} = vec4<f32>(0.0);`);
      // Tap kw of output i reads input i + kw (x_m1 is i = -1, the left neighbour).
      for (let kw = 0; kw < 3; kw++) fma.push(`a${i}_${j} = fma(vec4<f32>(xs[${i + kw}]), w${kw}_${j}, a${i}_${j});`);
      for (let l = 0; l < 4; l++) {
        store.push(`y[(c0 + ${4 * j + l}u) * plane + pos + ${i}u] = a${i}_${j}.${'xyzw'[l]} + bias[c0 + ${4 * j + l}u];`);
      }
    }
  }
  const loadW: string[] = [];
  for (let kw = 0; kw < 3; kw++) for (let j = 0; j < NV; j++) loadW.push(`let w${kw}_${j} = wt[wbase + ${kw * (cout / 4) + j}u];`);
  const mid = RM === 8
    ? ['let m0 = xv[(row + w0) >> 2u];', 'let m1 = xv[((row + w0) >> 2u) + 1u];', 'xs[1] = m0.x; xs[2] = m0.y; xs[3] = m0.z; xs[4] = m0.w;', 'xs[5] = m1.x; xs[6] = m1.y; xs[7] = m1.z; xs[8] = m1.w;']
    : ['let m0 = xv[(row + w0) >> 2u];', 'xs[1] = m0.x; xs[2] = m0.y; xs[3] = m0.z; xs[4] = m0.w;'];
  const ind = (lines: readonly string[], n: number): string => lines.map((l) => `${' '.repeat(n)}${l}`).join('\n');
  return `// Hand-written baseline: causal conv3d ${cin}->${cout} k3 on ${T}x${H}x${W}, implicit GEMM,
// ${RM} positions x ${4 * NV} channels per thread (vec4 weights, vec4 input rows).
@group(0) @binding(0) var<storage, read> xv: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn xat(i: u32) -> f32 {
  return xv[i >> 2u][i & 3u];
}

@compute @workgroup_size(${v.wgC}, ${v.wgP}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  let seg = gid.y;
  if (g >= ${groups}u || seg >= ${segments}u) { return; }
  let c0 = g * ${4 * NV}u;
  let w0 = (seg % ${segsPerRow}u) * ${RM}u;
  let th = seg / ${segsPerRow}u;
  let h = th % ${H}u;
  let t = th / ${H}u;
  let plane = ${T * H * W}u;
  let pos = th * ${W}u + w0;
  let wl = select(w0 - 1u, 0u, w0 == 0u);
  let wr = min(w0 + ${RM}u, ${W - 1}u);
${ind(acc, 2)}
  var xs: array<f32, ${RM + 2}>;
  let zero = select(0u, 1u, arrayLength(&xv) == 0u);
  for (var ci = 0u; ci < ${cin}u + zero; ci++) {
    for (var kt = 0u; kt < 3u + zero; kt++) {
      // Causal in time: frame t reads frames t-2..t, the first frame repeated before it.
      let tt = u32(max(i32(t) + i32(kt) - 2, 0));
      for (var kh = 0u; kh < 3u + zero; kh++) {
        let hh = u32(clamp(i32(h) + i32(kh) - 1, 0, ${H - 1}));
        let row = ((ci * ${T}u + tt) * ${H}u + hh) * ${W}u;
        xs[0] = xat(row + wl);
${ind(mid, 8)}
        xs[${RM + 1}] = xat(row + wr);
        let wbase = ((ci * 9u + kt * 3u + kh) * 3u) * ${cout / 4}u + g * ${NV}u;
${ind(loadW, 8)}
${ind(fma, 8)}
      }
    }
  }
${ind(store, 2)}
}
`;
}

/** The weight [Cout, Cin, 3, 3, 3] laid out [Cin, 3, 3, 3, Cout] for the baseline. */
export function conv3dBaselineWeight(w: Float32Array, cin: number, cout: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let co = 0; co < cout; co++) for (let ci = 0; ci < cin; ci++) for (let tap = 0; tap < 27; tap++) {
    out[(ci * 27 + tap) * cout + co] = w[(co * cin + ci) * 27 + tap];
  }
  return out;
}

export const conv3dFlops = (s: Conv3dShape): number => 2 * s.cout * s.cin * 27 * s.t * s.h * s.w;
