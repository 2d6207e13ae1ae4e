/**
 * `kiln tune` and `kiln bench` through main(): usage mistakes (no GPU needed), and a real
 * tuning run of the example MLP into a temporary cache folder ($KILN_CACHE_DIR): written once,
 * then reported as cached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { resetSharedTuneCache } from '../../../compiler/tune/cache.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { captureConsole } from '../console_capture.ts';
import { EXAMPLE, EXAMPLE_CONFIG } from '../../compiler/bindings/gelu_mlp_reference.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';

const dirs = tempDirs();
const saved = process.env.KILN_CACHE_DIR;
afterAll(() => {
  if (saved === undefined) delete process.env.KILN_CACHE_DIR; else process.env.KILN_CACHE_DIR = saved;
  resetSharedTuneCache();
  dirs.cleanup();
});

const { out, err } = captureConsole();
const mlp = (...more: string[]) => ['tune', EXAMPLE, '--entry', 'GeluMLP', '--config', EXAMPLE_CONFIG, ...more];

describe('kiln tune usage', () => {
  it('says what is missing or contradictory (exit 2)', async () => {
    expect(await main(mlp())).toBe(2);
    expect(err.at(-1)).toMatch(/--shapes NAME=\[\.\.\.\]/);
    expect(await main(['tune', '--vae', 'tiny'])).toBe(2);
    expect(err.at(-1)).toMatch(/--vae needs one of --decode SHAPE .* or --encode SHAPE/);
    expect(await main(['tune', '--vae', 'tiny', '--decode', '[1,4,2,8]'])).toBe(2);
    expect(err.at(-1)).toMatch(/expected a 5-D shape/);
    expect(await main(mlp('--shapes', 'x=[2,5,8]', '--dtype', 'f64'))).toBe(2);
    expect(err.at(-1)).toMatch(/--dtype must be f32 or f16/);
    expect(await main(['tune', EXAMPLE, '--decode', '[1,4,2,8,8]'])).toBe(2);
    expect(err.at(-1)).toMatch(/--decode and --encode go with --vae/);
  });
});

describe('kiln bench usage', () => {
  it('lists its suites, and refuses an unknown one', async () => {
    expect(await main(['bench', '--list'])).toBe(0);
    expect(out.join('\n')).toMatch(/contractions[\s\S]*attention[\s\S]*released-decode .*not in the default run[\s\S]*released-dit .*not in the default run/);
    expect(await main(['bench', 'nonsense'])).toBe(2);
    expect(err.at(-1)).toMatch(/unknown suite 'nonsense'; the suites are contractions, attention, bandwidth/);
  });
});

// main() opens and releases the process's device itself: only ask whether there is one.
const device = (await deviceOrUndefined()) !== undefined;
await releaseDevice();

describe.skipIf(!device)(device ? 'kiln tune on WebGPU' : `kiln tune on WebGPU — ${NO_ADAPTER}`, () => {
  it('tunes every signature into $KILN_CACHE_DIR/tune.json, then finds them cached', async () => {
    const dir = dirs.make();
    process.env.KILN_CACHE_DIR = dir;
    expect(await main(mlp('--shapes', 'x=[2,5,8]'))).toBe(0);
    const file = join(dir, 'tune.json');
    expect(existsSync(file)).toBe(true);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    const entries = Object.values(saved.adapters as Record<string, { entries: Record<string, unknown> }>)[0].entries;
    expect(Object.keys(entries).length).toBeGreaterThan(0);
    expect(out.join('\n')).toMatch(/tunable kernel signatures?: \d+ tuned, 0 already cached; wrote /);
    out.length = 0;
    expect(await main(mlp('--shapes', 'x=[2,5,8]'))).toBe(0);
    expect(out.join('\n')).toMatch(/: 0 tuned, \d+ already cached/);
  });
});
