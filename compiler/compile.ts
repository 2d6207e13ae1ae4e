/**
 * compile: graph IR -> CompiledProgram (kernel.ts) for one Target.
 *
 * The back end is a flat, ordered list of passes (passes/pass.ts):
 *   graph passes     simplify, split wide concats (+ conv weight layout with relayoutWeights)
 *   schedule passes  fuse (attention, epilogues, materialisation, output kernels)
 *                    -> row chains -> inline cost -> recompute guard -> pack row results -> binding cap   (fuse: false: unfused -> binding cap)
 *   then tensor assignment and limit checks, code generation per kernel group, memory plan.
 * User-caused failures (a tensor too large for the device, an index beyond 32 bits) are
 * CompileErrors (`userFacing = true`) with the offending tensor's origin and advice.
 */
import type { Graph } from './ir.ts';
import type { CompiledProgram } from './kernel.ts';
import type { Target } from './target.ts';
import type { KernelTiles } from './codegen/common.ts';
import type { SubgroupMatrixSupport } from './codegen/subgroup_matrix.ts';
import { generateKernels } from './codegen/generate.ts';
import { packRowResultsPass } from './passes/pack_row_results.ts';
import { bindingCapPass } from './passes/binding_cap.ts';
import { CompileError } from './passes/errors.ts';
import { fusePass, unfusedPass } from './passes/fuse.ts';
import { inlineCostPass } from './passes/inline_cost.ts';
import { recomputePass } from './passes/recompute.ts';
import { type GraphPass, type PassContext, type SchedulePass, runGraphPasses, runSchedulePasses } from './passes/pass.ts';
import { planMemory } from './passes/plan_memory.ts';
import { rowChainPass } from './passes/row_chain.ts';
import { type Schedule, emptySchedule } from './passes/schedule.ts';
import { simplifyPass, splitWideConcatsPass } from './passes/simplify.ts';
import { weightLayoutAtUploadPass, weightLayoutPass } from './passes/weight_layout.ts';
import { assignTensors, checkLimits } from './passes/tensors.ts';
import { type HalfInterface, type StorageMode, storageDTypes } from './passes/storage.ts';
import { kernelSignature } from './tune/signature.ts';
import type { TuningTable } from './tune/table.ts';

export { CompileError } from './passes/errors.ts';

export interface CompileOptions {
  /** Fuse into kernel groups (default true); false gives one kernel per node (a baseline). */
  readonly fuse?: boolean;
  /** Program name, used in error messages. */
  readonly name?: string;
  /** Run the IR validators between passes (tests). */
  readonly validate?: boolean;
  /** Tile overrides for every kernel of their kind (tests; wins over `tuning`). */
  readonly tiles?: KernelTiles;
  /**
   * Tuned tiles per kernel signature (compiler/tune: the autotuner's on-disk cache for this
   * target). Kernels without an entry use the target's heuristic.
   */
  readonly tuning?: TuningTable;
  /**
   * Where values rest between kernels: 'f32' (default), or 'f16' to keep weights and
   * intermediates in f16 buffers (passes/storage.ts; needs the shader-f16 feature). The graph
   * and its arithmetic stay f32; inputs and outputs stay f32.
   */
  readonly storage?: StorageMode;
  /** With f16 storage: inputs and outputs in f16 too (passes/storage.ts). */
  readonly halfInterface?: HalfInterface;
  /**
   * The adapter's subgroup-matrix configurations (Dawn's chromium-experimental-subgroup-matrix):
   * plain matmuls that fit one use tensor-core fragments (codegen/subgroup_matrix.ts); the
   * register-tiled kernel otherwise.
   */
  readonly subgroupMatrix?: SubgroupMatrixSupport;
  /**
   * Give convolutions channels-last copies of their weights (~15-40% faster convolutions on
   * lavapipe, coalesced weight loads on GPUs). `true`: one copy kernel per weight and run.
   * `'upload'`: the weights are named `KEY@permute(...)` and the runtime's weight store
   * permutes them once when it uploads them (passes/weight_layout.ts), so nothing runs per
   * call (ModelSession's default). Off by default here.
   */
  readonly relayoutWeights?: boolean | 'upload';
  /** Called after every pass with its result. */
  readonly trace?: PassContext['trace'];
}

export const GRAPH_PASSES: readonly GraphPass[] = [simplifyPass, splitWideConcatsPass];
export const RELAYOUT_GRAPH_PASSES: readonly GraphPass[] = [...GRAPH_PASSES, weightLayoutPass];
export const UPLOAD_RELAYOUT_GRAPH_PASSES: readonly GraphPass[] = [...GRAPH_PASSES, weightLayoutAtUploadPass];
export const FUSED_PASSES: readonly SchedulePass[] = [fusePass, rowChainPass, inlineCostPass, recomputePass, packRowResultsPass, bindingCapPass];
export const UNFUSED_PASSES: readonly SchedulePass[] = [unfusedPass, bindingCapPass];

/** Graph passes and fusion only: the schedule the code generator will see. */
export function schedule(graph: Graph, target: Target, opts: CompileOptions = {}): Schedule {
  const ctx: PassContext = { target, fuse: opts.fuse ?? true, validate: opts.validate ?? false, trace: opts.trace };
  const relayout = ctx.fuse ? opts.relayoutWeights : undefined;
  const g = runGraphPasses(graph, relayout === 'upload' ? UPLOAD_RELAYOUT_GRAPH_PASSES : relayout ? RELAYOUT_GRAPH_PASSES : GRAPH_PASSES, ctx);
  return runSchedulePasses(emptySchedule(g), ctx.fuse ? FUSED_PASSES : UNFUSED_PASSES, ctx);
}

export function compile(graph: Graph, target: Target, opts: CompileOptions = {}): CompiledProgram {
  try {
    const storage = opts.storage ?? 'f32';
    if (storage === 'f16' && !target.features.shaderF16) {
      throw new CompileError(
        `f16 storage was asked for (--dtype f16), but this device (${target.adapter.description || target.adapter.vendor || 'unknown adapter'}) has no 'shader-f16' feature, ` +
        'so its kernels cannot read or write f16 buffers. Run with --dtype f32 (the default), or on a device that offers shader-f16 (see `kiln devices`).');
    }
    const s = schedule(graph, target, opts);
    const a = assignTensors(s);
    const tensors = storageDTypes(s, a, storage, opts.halfInterface);
    checkLimits(s, { ...a, tensors }, target);
    const tuning = opts.tuning;
    const kernels = generateKernels({ schedule: s, assignment: a, tensors, target, subgroupMatrix: opts.subgroupMatrix }, {
      tiles: opts.tiles,
      tilesFor: tuning ? (g) => { const sig = kernelSignature(g, storage); return sig === undefined ? undefined : tuning.lookup(sig); } : undefined,
    });
    const plan = planMemory(tensors, kernels, target);
    return { tensors, kernels, inputs: a.inputs, weights: a.weights, outputs: a.outputTensors, plan };
  } catch (e) {
    if (e instanceof CompileError && opts.name) throw new CompileError(`compiling ${opts.name}: ${e.message}`);
    throw e;
  }
}
