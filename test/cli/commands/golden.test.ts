/**
 * `kiln golden` through main(): a folder's cases of classes Kiln has no model for are skipped
 * with the reason while the others run; a named one, or a malformed file, fails without
 * stopping the rest. Runs on the interpreter, so no GPU is needed.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors_write.ts';
import { captureConsole } from '../console_capture.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { goldenPath } from '../../models/golden_cases.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());
const { out } = captureConsole();

/** A well-formed case file of an upstream class Kiln has no model for. */
function unsupportedCase(dir: string): string {
  const path = join(dir, 'text_encoder_like.safetensors');
  writeSafetensors(path, { 'input.tokens': { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }, {
    case: 'text_encoder_like',
    module: 'hyvideo.text_encoder.TextEncoder',
    class_name: 'TextEncoder',
    config: '{"constructor": {}, "calls": []}',
    tolerance: '{}',
  });
  return path;
}

/** A folder holding one supported case (the smallest convolution) and one unsupported. */
function mixedFolder(): string {
  const dir = dirs.make();
  copyFileSync(goldenPath('causal_conv3d_k1.safetensors'), join(dir, 'causal_conv3d_k1.safetensors'));
  unsupportedCase(dir);
  return dir;
}

describe('kiln golden', () => {
  it('skips a folder\'s cases it has no model for, saying why, and passes on the others', async () => {
    const code = await main(['golden', '--backend', 'interp', mixedFolder()]);
    const text = out.join('\n');
    expect(text).toMatch(/^PASS causal_conv3d_k1 /m);
    expect(text).toMatch(/^SKIP .*text_encoder_like\.safetensors: no Kiln model for the upstream class TextEncoder/m);
    expect(text).toContain('1/1 golden cases pass (interp); 1 skipped (no Kiln model yet): text_encoder_like');
    expect(code).toBe(0);
  });

  it('fails a case named on the command line that it cannot run, and still runs the rest', async () => {
    const dir = dirs.make();
    const named = unsupportedCase(dir);
    const code = await main(['golden', '--backend', 'interp', named, goldenPath('causal_conv3d_k1.safetensors')]);
    const text = out.join('\n');
    expect(text).toMatch(/^FAIL .*text_encoder_like\.safetensors: no Kiln model/m);
    expect(text).toMatch(/^PASS causal_conv3d_k1 /m);
    expect(text).toContain('1/2 golden cases pass (interp); failing: text_encoder_like');
    expect(code).toBe(1);
  });

  it('fails a malformed file in a folder without stopping the others', async () => {
    const dir = mixedFolder();
    writeFileSync(join(dir, 'broken.safetensors'), 'not a safetensors file');
    const code = await main(['golden', '--backend', 'interp', dir]);
    const text = out.join('\n');
    expect(text).toMatch(/^FAIL .*broken\.safetensors/m);
    expect(text).toMatch(/^PASS causal_conv3d_k1 /m);
    expect(text).toContain('failing: broken');
    expect(code).toBe(1);
  });

  it('runs the transformer by sequence parallelism with --devices, skipping a case whose heads the devices cannot share', async () => {
    const dir = dirs.make();
    copyFileSync(goldenPath('dit_tiny_token_replace.safetensors'), join(dir, 'dit_tiny_token_replace.safetensors'));
    out.length = 0;
    expect(await main(['golden', '--backend', 'interp', '--devices', '2', dir])).toBe(0);
    expect(out.join('\n')).toContain('1/1 golden cases pass (interp, the transformer on 2 devices)');
    out.length = 0;
    // The case's transformer has 2 heads: 3 devices cannot share them.
    expect(await main(['golden', '--backend', 'interp', '--devices', '3', dir])).toBe(1);
    expect(out.join('\n')).toMatch(/SKIP .*3 devices cannot share 2 attention heads evenly; use 1, 2 devices/);
  });

  it('fails when a folder holds nothing it can run', async () => {
    const dir = dirs.make();
    unsupportedCase(dir);
    const code = await main(['golden', '--backend', 'interp', dir]);
    expect(out.join('\n')).toContain('No case was run');
    expect(code).toBe(1);
  });
});
