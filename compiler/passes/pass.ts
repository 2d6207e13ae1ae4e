/**
 * Passes: the compiler back end as a flat ordered list of named stages (tinygrad style).
 *
 * Vocabulary
 * - GraphPass: Graph -> Graph rewrite (e.g. simplify); SchedulePass: Schedule -> Schedule
 *   (fusion decisions); the stage types differ, so passes cannot run out of order.
 * - PassContext: what every pass may consult: the target, whether fusion is on, and whether
 *   to run the validators between passes (tests do; it costs a walk of the graph per pass).
 */
import type { Graph } from '../ir.ts';
import type { Target } from '../target.ts';
import type { Schedule } from './schedule.ts';
import { validateGraph, validateSchedule } from './validate.ts';

export interface PassContext {
  readonly target: Target;
  readonly fuse: boolean;
  readonly validate: boolean;
  /** Called after each pass (for dumps and debugging). */
  readonly trace?: (pass: string, result: Graph | Schedule) => void;
}

export interface GraphPass {
  readonly name: string;
  run(g: Graph, ctx: PassContext): Graph;
}

export interface SchedulePass {
  readonly name: string;
  run(s: Schedule, ctx: PassContext): Schedule;
}

export function runGraphPasses(g: Graph, passes: readonly GraphPass[], ctx: PassContext): Graph {
  if (ctx.validate) validateGraph(g, 'input graph');
  for (const p of passes) {
    g = p.run(g, ctx);
    if (ctx.validate) validateGraph(g, `after ${p.name}`);
    ctx.trace?.(p.name, g);
  }
  return g;
}

export function runSchedulePasses(s: Schedule, passes: readonly SchedulePass[], ctx: PassContext): Schedule {
  for (const p of passes) {
    s = p.run(s, ctx);
    if (ctx.validate) validateSchedule(s, `after ${p.name}`);
    ctx.trace?.(p.name, s);
  }
  return s;
}
