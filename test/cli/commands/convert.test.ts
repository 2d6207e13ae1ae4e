import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { captureConsole } from '../console_capture.ts';
import { toFloat64 } from '../../../runtime/tensor.ts';
import { openSafetensors } from '../../../runtime/weights/safetensors.ts';
import { tempDirs, tempLeftovers } from '../../runtime/weights/helpers.ts';
import { Py, contiguous, f32Bytes, i64Bytes, storage, torchSave } from '../../runtime/weights/torch_writer.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { out, err } = captureConsole();

/** A training checkpoint: {'state_dict': {vae.*, text.*, step counter}, 'epoch': 7}. */
function writeCheckpoint(dir: string): string {
  const path = join(dir, 'model.pt');
  const w = storage('0', 'FloatStorage', f32Bytes([1, 2, 3, 4, 5, 6]));
  const sd = Py.ordered([
    ['vae.encoder.conv.weight', contiguous(w, [2, 3])],
    ['vae.decoder.conv.weight', Py.tensor(w, 0, [3, 2], [1, 3])],
    ['vae.steps', contiguous(storage('1', 'LongStorage', i64Bytes([42])), [1])],
    ['text.proj.weight', contiguous(storage('2', 'FloatStorage', f32Bytes([0.1, 0.2])), [2])],
  ], true);
  writeFileSync(path, torchSave(Py.dict([['state_dict', sd], ['epoch', 7]])));
  return path;
}

describe('kiln convert', () => {
  it('converts a .pt checkpoint, selecting, stripping and casting', async () => {
    const dir = dirs.make();
    const input = writeCheckpoint(dir);
    const output = join(dir, 'vae.safetensors');
    expect(await main(['convert', input, output, '--prefix', 'vae.', '--strip-prefix', '--dtype', 'f16'])).toBe(0);
    const f = openSafetensors(output);
    expect([...f.names].sort()).toEqual(['decoder.conv.weight', 'encoder.conv.weight', 'steps']);
    expect(f.entry('encoder.conv.weight')).toMatchObject({ dtype: 'F16', shape: [2, 3] });
    expect(Array.from(toFloat64(f.read('decoder.conv.weight')))).toEqual([1, 4, 2, 5, 3, 6]);
    // Integer tensors are never cast.
    expect(f.read('steps')).toMatchObject({ dtype: 'I64', shape: [1] });
    expect(Array.from(f.read('steps').data as BigInt64Array)).toEqual([42n]);
    expect(f.metadata).toEqual({ format: 'pt' });
    f.close();
    const summary = out.join('\n');
    expect(summary).toContain(`wrote ${output}`);
    // 6 + 6 + 1 parameters; 2 F16 tensors and one I64.
    expect(summary).toMatch(/3 tensors \(2 F16, 1 I64\), 13 parameters/);
    expect(summary).toContain(`${readFileSync(output).length.toLocaleString('en-US')} bytes`);
    expect(summary).toContain('took the tensors under "state_dict"');
    expect(summary).toContain('stored 2 floating tensors as F16');
  });

  it('keeps every tensor with --whole, and dtypes unchanged without --dtype', async () => {
    const dir = dirs.make();
    const input = writeCheckpoint(dir);
    const output = join(dir, 'all.safetensors');
    expect(await main(['convert', input, output, '--whole'])).toBe(0);
    const f = openSafetensors(output);
    expect(f.names).toHaveLength(4);
    expect(f.entry('state_dict.text.proj.weight').dtype).toBe('F32');
    expect(Array.from(f.read('state_dict.text.proj.weight').data as Float32Array)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
  });

  it('converts safetensors to safetensors, keeping metadata', async () => {
    const dir = dirs.make();
    const golden = new URL('../../golden/causal_conv3d_k3_s1.safetensors', import.meta.url).pathname;
    const output = join(dir, 'conv.safetensors');
    expect(await main(['convert', golden, output, '--prefix', 'conv.', '--dtype', 'bf16'])).toBe(0);
    const f = openSafetensors(output);
    expect([...f.names].sort()).toEqual(['conv.bias', 'conv.weight']);
    expect(f.entry('conv.weight')).toMatchObject({ dtype: 'BF16', shape: [6, 4, 3, 3, 3] });
    expect(f.metadata.case).toBe('causal_conv3d_k3_s1');
  });

  it('reports usage mistakes with exit code 2', async () => {
    const dir = dirs.make();
    const input = writeCheckpoint(dir);
    const cases: Array<[string[], RegExp]> = [
      [[input], /expected two arguments, IN and OUT\.safetensors, but got 1/],
      [[input, join(dir, 'out.pt')], /must be a \.safetensors file/],
      [[input, join(dir, 'o.safetensors'), '--dtype', 'f8'], /--dtype f8 is not one of f32, f16, bf16/],
      [[input, join(dir, 'o.safetensors'), '--strip-prefix'], /--strip-prefix needs --prefix/],
      [[input, join(dir, 'o.safetensors'), '--bogus'], /Unknown option '--bogus'/],
      [[input, join(dir, 'o.safetensors'), '--from', 'state_dict', '--whole'], /--from and --whole contradict/],
    ];
    for (const [args, message] of cases) {
      err.length = 0;
      expect(await main(['convert', ...args])).toBe(2);
      expect(err.join('\n')).toMatch(message);
    }
  });

  it('refuses to overwrite without --force', async () => {
    const dir = dirs.make();
    const input = writeCheckpoint(dir);
    const output = join(dir, 'o.safetensors');
    writeFileSync(output, 'precious');
    expect(await main(['convert', input, output])).toBe(2);
    expect(err.join('\n')).toMatch(/already exists; pass --force/);
    expect(readFileSync(output, 'utf8')).toBe('precious');
    expect(await main(['convert', input, output, '--force'])).toBe(0);
    expect(openSafetensors(output).names).toHaveLength(4);
  });

  it('prints user errors without a stack trace and leaves no output', async () => {
    const dir = dirs.make();
    const input = writeCheckpoint(dir);
    const output = join(dir, 'o.safetensors');
    expect(await main(['convert', input, output, '--prefix', 'unet.'])).toBe(1);
    expect(err.join('\n')).toMatch(/no tensor key starts with "unet\."; its keys start with vae\., text\./);
    expect(err.join('\n')).not.toMatch(/\n\s+at /);
    expect(existsSync(output)).toBe(false);
    expect(tempLeftovers(dir)).toEqual([]);

    writeFileSync(join(dir, 'evil.pt'), torchSave(null, {
      pickle: Uint8Array.from([0x80, 0x02, 0x63, ...new TextEncoder().encode('os\nsystem\n'), 0x29, 0x52, 0x2e]),
    }));
    expect(await main(['convert', join(dir, 'evil.pt'), output])).toBe(1);
    expect(err.join('\n')).toMatch(/refusing to load .*evil\.pt: it references the Python global os\.system/);
  });

  it('has full help text', async () => {
    expect(await main(['convert', '--help'])).toBe(0);
    const help = out.join('\n');
    for (const option of ['--dtype f32|f16|bf16', '--prefix P', '--strip-prefix', '--from KEY', '--whole', '--force']) expect(help).toContain(option);
    expect(help).toMatch(/without running any of its code/);
  });
});
