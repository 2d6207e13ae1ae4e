/**
 * Per-kernel profiles and their table. Times come either from GPU timestamp queries
 * (`timestamp`: one compute pass per kernel, begin/end written by the GPU; lavapipe quantises
 * them to ~65 µs) or, without the timestamp-query feature, from wall-clock time around a
 * submit-and-wait per kernel (`wall`: includes submit and wake-up latency).
 */

export type ProfileMethod = 'timestamp' | 'wall';

export interface ProfileEntry {
  readonly kernel: string;
  readonly ms: number;
  readonly flops: number;
  readonly bytes: number;
  readonly sourceOps: readonly string[];
}

/** `conv, add, silu (+4)`: the op names of `op @ path (loc)` strings, deduplicated. */
export function abbreviateOps(ops: readonly string[], maxChars = 40): string {
  const names = [...new Set(ops.map((o) => o.split(' @ ')[0].trim()).filter((s) => s !== ''))];
  let text = '';
  let shown = 0;
  for (const n of names) {
    const next = text ? `${text}, ${n}` : n;
    if (next.length > maxChars && shown > 0) break;
    text = next;
    shown++;
  }
  return shown < names.length ? `${text} (+${names.length - shown})` : text;
}

const rate = (amount: number, ms: number, unit: number): string => {
  if (!(ms > 0 && amount > 0)) return '-';
  const r = amount / (ms / 1000) / unit;
  // Small kernels on a CPU adapter run at tiny rates; keep three significant digits visible.
  return r >= 100 ? r.toFixed(0) : r >= 0.01 ? r.toFixed(2) : r.toPrecision(2);
};

/** A table: kernel, ms, % of total, GFLOP/s, GB/s, source ops; then the total. */
export function formatProfile(entries: readonly ProfileEntry[], method?: ProfileMethod): string {
  const total = entries.reduce((s, e) => s + e.ms, 0);
  const rows = entries.map((e) => [
    e.kernel,
    e.ms.toFixed(3),
    total > 0 ? `${((100 * e.ms) / total).toFixed(1)}%` : '-',
    rate(e.flops, e.ms, 1e9),
    rate(e.bytes, e.ms, 1e9),
    abbreviateOps(e.sourceOps),
  ]);
  const flops = entries.reduce((s, e) => s + e.flops, 0);
  const bytes = entries.reduce((s, e) => s + e.bytes, 0);
  rows.push(['total', total.toFixed(3), total > 0 ? '100.0%' : '-', rate(flops, total, 1e9), rate(bytes, total, 1e9), '']);
  const head = ['kernel', 'ms', '%', 'GFLOP/s', 'GB/s', 'source ops'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => (c === 0 || c === 5 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(0, -1).map(line), widths.map((w) => '-'.repeat(w)).join('  '), line(rows[rows.length - 1])];
  if (method) out.push(method === 'timestamp' ? 'times: GPU timestamp queries' : 'times: wall clock per kernel (one submit and wait each; includes submit latency)');
  return out.join('\n');
}
