// Every VAE golden case through the float64 reference interpreter: the language, the binder and
// the upstream-exact tiling are checked against the original PyTorch outputs, independently of
// any GPU code.
import { describe, expect, it } from 'vitest';
import { formatReport, runGoldenCase } from '../../models/golden/run.ts';
import { BLOCK_CASES, goldenPath, MODEL_CASES, TILED_CASES } from './golden_cases.ts';

const ctx = { backend: 'interp' as const, session: { backend: 'interp' as const }, log: () => {} };

describe('VAE goldens on the reference interpreter', () => {
  for (const f of [...BLOCK_CASES, ...MODEL_CASES, ...TILED_CASES]) {
    it(f, async () => {
      const r = await runGoldenCase(goldenPath(f), ctx);
      expect(r.comparisons.length).toBeGreaterThan(0);
      expect(r.pass, formatReport(r)).toBe(true);
    });
  }
});
