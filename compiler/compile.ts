/**
 * compile: graph IR -> CompiledProgram (kernel.ts) for one Target.
 *
 * The back end is a flat, ordered list of passes (passes/pass.ts):
 *   graph passes     simplify, split wide concats (+ conv weight layout with relayoutWeights)
 *   schedule passes  fuse (attention, epilogues, materialisation, output kernels)
 *                    -> row chains -> inline cost -> binding cap   (fuse: false: unfused -> binding cap)
 *   then tensor assignment and limit checks, code generation per kernel group, memory plan.
 * User-caused failures (a tensor too large for the device, an index beyond 32 bits) are
 * CompileErrors (`userFacing = true`) with the offending tensor's origin and advice.
 */
import type { Graph } from './ir.ts';
import type { CompiledProgram } from './kernel.ts';
import type { Target } from './target.ts';
import type { GenContext } from './codegen/common.ts';
import { generateKernels } from './codegen/generate.ts';
import { bindingCapPass } from './passes/binding_cap.ts';
import { CompileError } from './passes/errors.ts';
import { fusePass, unfusedPass } from './passes/fuse.ts';
import { inlineCostPass } from './passes/inline_cost.ts';
import { type GraphPass, type PassContext, type SchedulePass, runGraphPasses, runSchedulePasses } from './passes/pass.ts';
import { planMemory } from './passes/plan_memory.ts';
import { rowChainPass } from './passes/row_chain.ts';
import { type Schedule, emptySchedule } from './passes/schedule.ts';
import { simplifyPass, splitWideConcatsPass } from './passes/simplify.ts';
import { weightLayoutPass } from './passes/weight_layout.ts';
import { assignTensors, checkLimits } from './passes/tensors.ts';

export { CompileError } from './passes/errors.ts';

export interface CompileOptions {
  /** Fuse into kernel groups (default true); false gives one kernel per node (a baseline). */
  readonly fuse?: boolean;
  /** Program name, used in error messages. */
  readonly name?: string;
  /** Run the IR validators between passes (tests). */
  readonly validate?: boolean;
  /** Tile overrides for every kernel of their kind (an autotuner's choice). */
  readonly tiles?: GenContext['tiles'];
  /**
   * Give convolutions channels-last copies of their weights (one copy kernel per weight and
   * run; ~15% faster convolutions on lavapipe, coalesced weight loads on GPUs). Off by default:
   * the copies are elementwise kernels that run on every call; computing them once per weight
   * upload needs a runtime hook (see the compiler's report).
   */
  readonly relayoutWeights?: boolean;
  /** Called after every pass with its result. */
  readonly trace?: PassContext['trace'];
}

export const GRAPH_PASSES: readonly GraphPass[] = [simplifyPass, splitWideConcatsPass];
export const RELAYOUT_GRAPH_PASSES: readonly GraphPass[] = [...GRAPH_PASSES, weightLayoutPass];
export const FUSED_PASSES: readonly SchedulePass[] = [fusePass, rowChainPass, inlineCostPass, bindingCapPass];
export const UNFUSED_PASSES: readonly SchedulePass[] = [unfusedPass, bindingCapPass];

/** Graph passes and fusion only: the schedule the code generator will see. */
export function schedule(graph: Graph, target: Target, opts: CompileOptions = {}): Schedule {
  const ctx: PassContext = { target, fuse: opts.fuse ?? true, validate: opts.validate ?? false, trace: opts.trace };
  const g = runGraphPasses(graph, ctx.fuse && opts.relayoutWeights ? RELAYOUT_GRAPH_PASSES : GRAPH_PASSES, ctx);
  return runSchedulePasses(emptySchedule(g), ctx.fuse ? FUSED_PASSES : UNFUSED_PASSES, ctx);
}

export function compile(graph: Graph, target: Target, opts: CompileOptions = {}): CompiledProgram {
  try {
    const s = schedule(graph, target, opts);
    const a = assignTensors(s);
    checkLimits(s, a, target);
    const kernels = generateKernels(s, a, target, opts.tiles);
    const plan = planMemory(a.tensors, kernels, target);
    return { tensors: a.tensors, kernels, inputs: a.inputs, weights: a.weights, outputs: a.outputTensors, plan };
  } catch (e) {
    if (e instanceof CompileError && opts.name) throw new CompileError(`compiling ${opts.name}: ${e.message}`);
    throw e;
  }
}
