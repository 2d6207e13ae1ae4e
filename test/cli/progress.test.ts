import { describe, expect, it } from 'vitest';
import { createProgress, estimateRemainingMs, formatDuration, renderBar } from '../../cli/progress.ts';

/** A stream that records what is written, and a clock the test moves by hand. */
function harness(tty: boolean, columns = 80) {
  const writes: string[] = [];
  let clock = 1000;
  const stream = { write: (s: string) => { writes.push(s); return true; }, isTTY: tty, columns };
  return {
    writes,
    text: () => writes.join(''),
    advance: (ms: number) => { clock += ms; },
    options: { stream, now: () => clock, animate: false },
  };
}

describe('time arithmetic', () => {
  it('estimates the time left from the mean step time', () => {
    expect(estimateRemainingMs(3000, 3, 12)).toBe(9000); // 1 s per step, 9 steps left
    expect(estimateRemainingMs(1000, 4, 10)).toBe(1500); // 250 ms per step, 6 left
    expect(estimateRemainingMs(500, 0, 10)).toBeUndefined(); // nothing to average yet
    expect(estimateRemainingMs(500, 10, 10)).toBe(0);
    expect(estimateRemainingMs(500, 12, 10)).toBe(0);
  });

  it('formats durations compactly', () => {
    expect([0, 420, 9_440, 9_960, 42_400, 59_400, 59_600, 65_000, 3_599_000, 3_600_000, 7_380_000].map(formatDuration))
      .toEqual(['0.0s', '0.4s', '9.4s', '10s', '42s', '59s', '1m00s', '1m05s', '59m59s', '1h00m', '2h03m']);
  });

  it('draws bars of the requested width', () => {
    expect(renderBar(0, 4)).toBe('░░░░');
    expect(renderBar(0.5, 4)).toBe('██░░');
    expect(renderBar(1.7, 4)).toBe('████');
  });
});

describe('plain output (not a terminal)', () => {
  it('prints one line per finished stage and records timings', () => {
    const h = harness(false);
    const p = createProgress(h.options);
    p.stage('load weights');
    h.advance(1200);
    p.stage('decode', { total: 4, unit: 'tiles' }); // ends "load weights"
    for (let i = 0; i < 4; i++) { h.advance(500); p.tick(); }
    p.done();
    expect(h.text()).toBe('load weights: done in 1.2s\ndecode: done in 2.0s (4/4 tiles, 0.5s each)\n');
    expect(p.summary().map(({ stage, ms }) => ({ stage, ms }))).toEqual([{ stage: 'load weights', ms: 1200 }, { stage: 'decode', ms: 2000 }]);
    expect(h.text()).not.toMatch(/\r|\x1b/);
  });

  it('adds a progress line every 30 s during a long counted stage', () => {
    const h = harness(false);
    const p = createProgress(h.options);
    p.stage('encode', { total: 10, unit: 'tiles' });
    for (let i = 0; i < 10; i++) { h.advance(8000); p.tick(); }
    p.done();
    // Ticks at 8, 16, 24, 32 (first line: 4 done in 32 s -> 8 s each, 6 left -> 48 s), 40, 48, 56, 64 (8 done, 2 left).
    expect(h.writes).toEqual([
      'encode: 4/10 tiles, 32s elapsed, ~48s left\n',
      'encode: 8/10 tiles, 1m04s elapsed, ~16s left\n',
      'encode: done in 1m20s (10/10 tiles, 8.0s each)\n',
    ]);
  });

  it('reports a failed stage', () => {
    const h = harness(false);
    const p = createProgress(h.options);
    p.stage('compile');
    h.advance(300);
    p.fail();
    expect(h.text()).toBe('compile: failed after 0.3s\n');
    expect(p.summary()[0]).toMatchObject({ stage: 'compile', failed: true });
  });
});

describe('terminal output', () => {
  it('redraws in place at most every 100 ms, then leaves one line per stage', () => {
    const h = harness(true, 60);
    const p = createProgress(h.options);
    p.stage('decode', { total: 12, unit: 'tiles' });
    const start = h.writes.length;
    // Ticks every 30 ms after the first draw at 0 ms: only the ticks at 120 ms and 240 ms are
    // 100 ms or more after the previous draw.
    for (let i = 0; i < 11; i++) { h.advance(30); p.tick(); }
    const redraws = h.writes.slice(start).filter((w) => w.startsWith('\r') && w.includes('decode'));
    expect(redraws.length).toBe(2);
    // At 240 ms: 8 of 12 done, 30 ms each, 4 left -> 120 ms. The bar fills 2/3 of its width.
    expect(redraws[1]).toMatch(/^\rdecode {2}█+░+ {2}8\/12 tiles {2}0\.2s, ~0\.1s left\x1b\[K$/);
    const bar = /█+░+/.exec(redraws[1])![0];
    expect(bar.indexOf('░')).toBe(Math.round((2 / 3) * bar.length));
    h.advance(30);
    p.tick(); // the last step always draws
    p.done();
    expect(h.text().endsWith('\r\x1b[K✓ decode  12/12 tiles  0.4s\n')).toBe(true);
  });

  it('keeps log lines apart from the live line', () => {
    const h = harness(true);
    const p = createProgress(h.options);
    p.stage('compile');
    p.log('using adapter: lavapipe');
    expect(h.writes.slice(1, 3)).toEqual(['\r\x1b[K', 'using adapter: lavapipe\n']);
    p.done();
  });
});

describe('quiet', () => {
  it('prints nothing but still times the stages', () => {
    const h = harness(true);
    const p = createProgress({ ...h.options, enabled: false });
    p.stage('decode', { total: 2 });
    h.advance(50);
    p.tick(2);
    p.log('hello');
    p.done();
    expect(h.writes).toEqual([]);
    expect(p.summary()).toEqual([{ stage: 'decode', ms: 50, steps: 2, failed: false }]);
  });
});
