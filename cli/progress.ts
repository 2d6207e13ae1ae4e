/**
 * Progress for long work, on stderr. Work is a sequence of named *stages* ("load weights",
 * "compile", "decode", ...); a stage may have a *total* number of *steps* in some *unit*
 * ("12 tiles"), advanced with `tick()`. On a terminal the current stage is one line redrawn in
 * place (at most ~10 times a second) with a bar, the elapsed time and an estimate of the time
 * left (average step time × steps left); each finished stage stays as one line. Anywhere else
 * (CI logs, files) each stage prints one plain line when it ends, plus a progress line every
 * 30 s for a long counted stage, so logs stay readable. Disabled (`--quiet`), nothing is
 * printed, but stage timings are still kept for `summary()`.
 */

/** The part of a stream progress needs (process.stderr, or a test double). */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** False prints nothing (e.g. `--quiet`). Default true. */
  enabled?: boolean;
  /** Redraw in place; default: whether the stream is a terminal. */
  tty?: boolean;
  /** Milliseconds clock; default performance.now. */
  now?: () => number;
  /** Minimum time between redraws on a terminal (default 100 ms). */
  redrawMs?: number;
  /** Time between progress lines of a counted stage when not on a terminal (default 30 s). */
  plainEveryMs?: number;
  /** On a terminal, redraw on a timer too, so the elapsed time moves during a long step (default true). */
  animate?: boolean;
}

export interface StageOptions {
  /** Number of steps, if known. */
  total?: number;
  /** What a step is, plural ("tiles", "frames"); default "steps". */
  unit?: string;
}

export interface StageTiming {
  readonly stage: string;
  readonly ms: number;
  readonly steps: number;
  readonly failed: boolean;
}

export interface Progress {
  /** Starts a stage (ending the current one, if any). */
  stage(name: string, options?: StageOptions): void;
  /** Advances the current stage by `steps` (default 1). */
  tick(steps?: number): void;
  /** Ends the current stage. */
  done(): void;
  /** Ends the current stage as failed (so an error printed next starts on a clean line). */
  fail(): void;
  /** Prints a line of text without breaking the progress line. */
  log(line: string): void;
  /** Finished stages in order, with their durations. */
  summary(): StageTiming[];
}

/** Milliseconds left, from the mean time of the steps done so far; undefined before the first step. */
export function estimateRemainingMs(elapsedMs: number, done: number, total: number): number | undefined {
  if (done >= total) return 0;
  if (done <= 0) return undefined;
  return (elapsedMs / done) * (total - done);
}

/** "0.4s", "9.5s", "42s", "1m05s", "2h03m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 9.95) return `${s.toFixed(1)}s`;
  if (s < 59.5) return `${Math.round(s)}s`;
  const totalMinutes = Math.floor(Math.round(s) / 60);
  if (totalMinutes < 60) return `${totalMinutes}m${String(Math.round(s) % 60).padStart(2, '0')}s`;
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, '0')}m`;
}

/** A bar of `width` cells, `fraction` (0..1) of them filled. */
export function renderBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

interface ActiveStage {
  name: string;
  total?: number;
  unit: string;
  steps: number;
  start: number;
  lastPlain: number;
}

const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream: ProgressStream = options.stream ?? process.stderr;
  const enabled = options.enabled ?? true;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const now = options.now ?? (() => performance.now());
  const redrawMs = options.redrawMs ?? 100;
  const plainEveryMs = options.plainEveryMs ?? 30_000;
  const animate = options.animate ?? true;

  const finished: StageTiming[] = [];
  let active: ActiveStage | undefined;
  let lastDraw = -Infinity;
  let drawn = false; // a progress line is on screen and must be cleared before other output
  let frame = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const write = (text: string) => { if (enabled) stream.write(text); };

  const counts = (s: ActiveStage) => (s.total !== undefined ? `${Math.min(s.steps, s.total)}/${s.total} ${s.unit}` : s.steps > 0 ? `${s.steps} ${s.unit}` : '');

  const liveLine = (s: ActiveStage, t: number): string => {
    const elapsed = t - s.start;
    const parts = [s.name];
    if (s.total !== undefined && s.total > 0) {
      const left = s.steps < s.total ? estimateRemainingMs(elapsed, s.steps, s.total) : undefined;
      const tail = `${counts(s)}  ${formatDuration(elapsed)}${left !== undefined ? `, ~${formatDuration(left)} left` : ''}`;
      const room = (stream.columns ?? 80) - s.name.length - tail.length - 4;
      parts.push(renderBar(s.steps / s.total, Math.min(30, Math.max(10, room))), tail);
    } else {
      parts.push(SPINNER[frame++ % SPINNER.length], [counts(s), formatDuration(elapsed)].filter(Boolean).join('  '));
    }
    return parts.join('  ');
  };

  const clear = () => { if (drawn) { write('\r\x1b[K'); drawn = false; } };

  /** `minGapMs`: skip if drawn more recently than this (ticks use the full interval; the timer half, to absorb its jitter). */
  const redraw = (force = false, minGapMs = redrawMs) => {
    if (!enabled || !tty || !active) return;
    const t = now();
    if (!force && t - lastDraw < minGapMs) return;
    lastDraw = t;
    write(`\r${liveLine(active, t)}\x1b[K`);
    drawn = true;
  };

  const stopTimer = () => { if (timer) { clearInterval(timer); timer = undefined; } };

  const finish = (failed: boolean) => {
    if (!active) return;
    const s = active;
    active = undefined;
    stopTimer();
    const ms = now() - s.start;
    finished.push({ stage: s.name, ms, steps: s.steps, failed });
    const what = counts(s);
    if (tty) {
      clear();
      write(failed ? `✗ ${s.name} failed after ${formatDuration(ms)}\n` : `✓ ${s.name}  ${what ? `${what}  ` : ''}${formatDuration(ms)}\n`);
    } else if (failed) {
      write(`${s.name}: failed after ${formatDuration(ms)}${what ? ` (${what})` : ''}\n`);
    } else {
      const perStep = s.steps > 0 ? `, ${formatDuration(ms / s.steps)} each` : '';
      write(`${s.name}: done in ${formatDuration(ms)}${what ? ` (${what}${perStep})` : ''}\n`);
    }
  };

  return {
    stage(name, stageOptions = {}) {
      finish(false);
      const t = now();
      active = { name, total: stageOptions.total, unit: stageOptions.unit ?? 'steps', steps: 0, start: t, lastPlain: t };
      if (enabled && tty) {
        redraw(true);
        if (animate) {
          timer = setInterval(() => redraw(false, redrawMs / 2), redrawMs);
          timer.unref?.();
        }
      }
    },
    tick(steps = 1) {
      if (!active) return;
      active.steps += steps;
      if (tty) {
        redraw(active.total !== undefined && active.steps >= active.total);
        return;
      }
      const t = now();
      if (active.total !== undefined && t - active.lastPlain >= plainEveryMs && active.steps < active.total) {
        active.lastPlain = t;
        const left = estimateRemainingMs(t - active.start, active.steps, active.total);
        write(`${active.name}: ${counts(active)}, ${formatDuration(t - active.start)} elapsed${left !== undefined ? `, ~${formatDuration(left)} left` : ''}\n`);
      }
    },
    done() { finish(false); },
    fail() { finish(true); },
    log(line) {
      clear();
      write(`${line}\n`);
      redraw(true);
    },
    summary() { return finished.map((s) => ({ ...s })); },
  };
}
