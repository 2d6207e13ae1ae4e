/**
 * Matmul on subgroup matrices (tensor cores): Dawn's `chromium_experimental_subgroup_matrix`
 * WGSL extension, offered where the adapter reports subgroup-matrix configurations
 * (GPUAdapterInfo.subgroupMatrixConfigs; feature `chromium-experimental-subgroup-matrix`).
 *
 * Vocabulary
 * - Config: one shape the hardware multiplies, M×K (left) by K×N (right) into M×N (result),
 *   with the left/right component type and the result component type.
 * - Fragment: one subgroup matrix. A workgroup is one subgroup (x = the adapter's largest
 *   subgroup size, as the extension requires) and owns FM × FN result fragments, i.e. a
 *   (FM·M) × (FN·N) tile of C; per K step it loads FM left and FN right fragments straight
 *   from the storage buffers (row-major, stride K and N) and multiply-accumulates them.
 *
 * It takes only what it can do exactly: a matmul whose operands are stored row-major tensors
 * read as they are (no prologue: no view, scaling or conversion folded into the loads), with
 * no epilogue, sizes that are multiples of the fragment tile, operand storage of the config's
 * component type and an output stored in its result type. Everything else — and every
 * adapter without configurations, lavapipe included — uses the register-tiled kernel
 * (matmul.ts), which is also the fallback when this returns undefined.
 */
import type { DType, MatmulNode, Node } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, dispatchGrid, kernelHeader } from './common.ts';
import { contractionFlops } from './register_tile.ts';

export type SubgroupMatrixComponent = 'f32' | 'f16' | 'u32' | 'i32' | 'u8' | 'i8';

export interface SubgroupMatrixConfig {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly componentType: SubgroupMatrixComponent;
  readonly resultComponentType: SubgroupMatrixComponent;
}

export interface SubgroupMatrixSupport {
  readonly configs: readonly SubgroupMatrixConfig[];
  /** GPUAdapterInfo.subgroupMaxSize: the workgroup's x size must be a multiple of it. */
  readonly subgroupMaxSize: number;
}

/** Result fragments per workgroup along M and N (each a config-sized block of C). */
const FM = 2;
const FN = 2;

/** Why `mm` cannot run on `cfg`, or undefined when it can. */
function problem(mm: MatmulNode, epi: Epilogue, ctx: GenContext, cfg: SubgroupMatrixConfig): string | undefined {
  if (epi.end !== epi.anchor) return 'it has an epilogue';
  const [a, b] = mm.src;
  const ta = ctx.storage.tensorOf(a);
  const tb = ctx.storage.tensorOf(b);
  if (ta === undefined || tb === undefined) return 'an operand is computed in the kernel (prologue)';
  if (ctx.storage.packOf?.(a) || ctx.storage.packOf?.(b)) return 'an operand is stored interleaved with another tensor';
  const r = mm.shape.length;
  const [m, n, k] = [mm.shape[r - 2], mm.shape[r - 1], a.shape[r - 1]];
  if (m % (FM * cfg.M) !== 0 || n % (FN * cfg.N) !== 0 || k % cfg.K !== 0) return 'its sizes are not multiples of the fragment tile';
  const stored = (n: Node, t: number): DType => ctx.storageOf?.(t) ?? n.dtype;
  if (stored(a, ta) !== cfg.componentType || stored(b, tb) !== cfg.componentType) return 'operand storage differs from the config\'s component type';
  if (stored(mm, ctx.tensorOf(mm)) !== cfg.resultComponentType) return 'output storage differs from the config\'s result type';
  return undefined;
}

/** The kernel on the first configuration that fits, or undefined (use the register-tiled kernel). */
export function generateSubgroupMatrixMatmul(name: string, epi: Epilogue, ctx: GenContext, support: SubgroupMatrixSupport): GeneratedKernel | undefined {
  const mm = epi.anchor as MatmulNode;
  const cfg = support.configs.find((c) => problem(mm, epi, ctx, c) === undefined);
  if (!cfg) return undefined;
  const [a, b] = mm.src;
  const r = mm.shape.length;
  const [m, n, k] = [mm.shape[r - 2], mm.shape[r - 1], a.shape[r - 1]];
  const batch = numel(mm.shape.slice(0, r - 2));
  const tilesM = m / (FM * cfg.M);
  const tilesN = n / (FN * cfg.N);
  const count = batch * tilesM * tilesN;
  const grid = dispatchGrid(count, ctx.target);
  const T = cfg.componentType;
  const R = cfg.resultComponentType;
  const left = `subgroup_matrix_left<${T}, ${cfg.K}, ${cfg.M}>`;
  const right = `subgroup_matrix_right<${T}, ${cfg.N}, ${cfg.K}>`;
  const result = `subgroup_matrix_result<${R}, ${cfg.N}, ${cfg.M}>`;
  const ta = ctx.tensorOf(a);
  const tb = ctx.tensorOf(b);
  const tc = ctx.tensorOf(mm);
  const lines: string[] = [];
  const wgIndex = grid[1] > 1 || grid[2] > 1 ? `wid.x + wid.y * ${grid[0]}u + wid.z * ${grid[0] * grid[1]}u` : 'wid.x';
  lines.push(`  let wg = ${wgIndex};`);
  if (grid[0] * grid[1] * grid[2] > count) lines.push(`  if (wg >= ${count}u) { return; }`);
  lines.push(
    `  let tn = wg % ${tilesN}u;`,
    `  let tm = (wg / ${tilesN}u) % ${tilesM}u;`,
    `  let bi = wg / ${tilesM * tilesN}u;`,
    `  let row0 = tm * ${FM * cfg.M}u;`,
    `  let col0 = tn * ${FN * cfg.N}u;`,
    `  let abase = bi * ${m * k}u + row0 * ${k}u;`,
    `  let bbase = bi * ${k * n}u + col0;`,
    `  let cbase = bi * ${m * n}u + row0 * ${n}u + col0;`,
  );
  for (let i = 0; i < FM; i++) for (let j = 0; j < FN; j++) lines.push(`  var acc${i}${j} = ${result}();`);
  lines.push(`  for (var kk = 0u; kk < ${k}u; kk += ${cfg.K}u) {`);
  for (let i = 0; i < FM; i++) lines.push(`    let a${i} = subgroupMatrixLoad<${left}>(&ba, abase + ${i * cfg.M * k}u + kk, false, ${k}u);`);
  for (let j = 0; j < FN; j++) lines.push(`    let b${j} = subgroupMatrixLoad<${right}>(&bb, bbase + kk * ${n}u + ${j * cfg.N}u, false, ${n}u);`);
  for (let i = 0; i < FM; i++) for (let j = 0; j < FN; j++) lines.push(`    acc${i}${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, acc${i}${j});`);
  lines.push('  }');
  for (let i = 0; i < FM; i++) for (let j = 0; j < FN; j++) lines.push(`  subgroupMatrixStore(&bc, cbase + ${i * cfg.M * n + j * cfg.N}u, acc${i}${j}, false, ${n}u);`);

  const sourceOps = [`matmul @ ${mm.origin.path}${mm.origin.loc ? ` (${mm.origin.loc})` : ''}`];
  const detail = `matmul ${batch > 1 ? `${batch} x ` : ''}${m}x${k} @ ${k}x${n} on subgroup matrices ${cfg.M}x${cfg.N}x${cfg.K} ${T}->${R}, ${FM}x${FN} fragments per subgroup`;
  const enables = ['enable chromium_experimental_subgroup_matrix;'];
  if (T === 'f16' || R === 'f16') enables.unshift('enable f16;');
  const wgsl = [
    kernelHeader(name, 'contraction', detail, sourceOps),
    ...enables,
    '',
    `@group(0) @binding(0) var<storage, read> ba: array<${T}>;`,
    `@group(0) @binding(1) var<storage, read> bb: array<${T}>;`,
    `@group(0) @binding(2) var<storage, read_write> bc: array<${R}>;`,
    '',
    `@compute @workgroup_size(${support.subgroupMaxSize}, 1, 1)`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>) {',
    ...lines,
    '}',
    '',
  ].join('\n');
  const bindings = [{ tensor: ta, access: 'read' as const }, { tensor: tb, access: 'read' as const }, { tensor: tc, access: 'read_write' as const }];
  return { wgsl, workgroups: grid, bindings, vectorAccessed: new Set(), kind: 'contraction', sourceOps, flops: contractionFlops(mm, k) };
}
