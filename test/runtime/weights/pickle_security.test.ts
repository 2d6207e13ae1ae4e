/**
 * Malicious checkpoints: pickles that, loaded by Python's pickle, would run a command or
 * evaluate code (checked against CPython when these tests were written: the `os.system` and
 * `builtins.eval` pickles below do create their marker files there). Kiln must refuse them
 * at the GLOBAL opcode, naming the global, and nothing may run.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWeights } from '../../../runtime/weights/checkpoint.ts';
import { PickleSecurityError, PytorchCheckpointError } from '../../../runtime/weights/errors.ts';
import { loadPytorchCheckpoint } from '../../../runtime/weights/pytorch.ts';
import { tempDirs } from './helpers.ts';
import { PickleEmitter, Py, contiguous, f32Bytes, storage, torchSave } from './torch_writer.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const REDUCE = 0x52;
const TUPLE1 = 0x85;

/** A torch-style zip whose data.pkl is `pickle`. */
function checkpointWith(pickle: Uint8Array, dir: string): string {
  const path = join(dir, 'checkpoint.pt');
  writeFileSync(path, torchSave(null, { pickle }));
  return path;
}

/** `GLOBAL module name`, one string argument, REDUCE: what `__reduce__` exploits pickle to. */
const callWithString = (module: string, name: string, arg: string) =>
  new PickleEmitter().proto(2).global(module, name).string(arg).op(TUPLE1, REDUCE).stop().bytes;

describe('malicious pickles', () => {
  it('refuses os.system and runs nothing', () => {
    const dir = dirs.make();
    const marker = join(dir, 'pwned-os');
    const path = checkpointWith(callWithString('os', 'system', `touch ${marker}`), dir);
    expect(() => loadPytorchCheckpoint(path)).toThrow(PickleSecurityError);
    expect(() => loadPytorchCheckpoint(path)).toThrow(
      `refusing to load ${path}: it references the Python global os.system, which Kiln never runs; only tensors and plain containers are allowed`,
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses builtins.eval and runs nothing', () => {
    const dir = dirs.make();
    const marker = join(dir, 'pwned-eval');
    const path = checkpointWith(callWithString('builtins', 'eval', `open(${JSON.stringify(marker)}, 'w').close()`), dir);
    expect(() => loadPytorchCheckpoint(path)).toThrow(/it references the Python global builtins\.eval, which Kiln never runs/);
    expect(existsSync(marker)).toBe(false);
  });

  for (const [module, name] of [['posix', 'system'], ['subprocess', 'Popen'], ['builtins', 'getattr'], ['builtins', 'exec'],
    ['torch', 'load'], ['numpy.core.multiarray', 'scalar'], ['torch._utils', '_rebuild_tensor_v2x']] as const) {
    it(`refuses ${module}.${name}`, () => {
      const path = checkpointWith(callWithString(module, name, 'x'), dirs.make());
      expect(() => loadPytorchCheckpoint(path)).toThrow(new RegExp(`the Python global ${module.replace(/\./g, '\\.')}\\.${name}, which Kiln never runs`));
    });
  }

  it('refuses a global reached through STACK_GLOBAL', () => {
    const bytes = new PickleEmitter().proto(4).string('os').string('system').op(0x93).string('x').op(TUPLE1, REDUCE).stop().bytes;
    expect(() => loadPytorchCheckpoint(checkpointWith(bytes, dirs.make()))).toThrow(/global os\.system/);
  });

  it('refuses a global reached through INST', () => {
    const bytes = new PickleEmitter().proto(2).op(0x28).string('x').op(0x69, ...new TextEncoder().encode('os\nsystem\n')).stop().bytes;
    expect(() => loadPytorchCheckpoint(checkpointWith(bytes, dirs.make()))).toThrow(/global os\.system/);
  });

  it('refuses at the GLOBAL even when it comes after legitimate tensors', () => {
    const dir = dirs.make();
    const marker = join(dir, 'late');
    const good = Py.ordered([['w', contiguous(storage('0', 'FloatStorage', f32Bytes([1])), [1])]]);
    // An OrderedDict of tensors, then SETITEM of a key whose value is os.system('touch marker').
    const e = new PickleEmitter().proto(2).value(good).string('evil').global('os', 'system').string(`touch ${marker}`).op(TUPLE1, REDUCE).op(0x73).stop();
    const path = join(dir, 'checkpoint.pt');
    writeFileSync(path, torchSave(good, { pickle: e.bytes }));
    expect(() => loadWeights(path)).toThrow(PickleSecurityError);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses the extension registry (EXT1), which names globals indirectly', () => {
    const bytes = new PickleEmitter().proto(2).op(0x82, 1).stop().bytes;
    expect(() => loadPytorchCheckpoint(checkpointWith(bytes, dirs.make()))).toThrow(/extension registry/);
  });

  it('cannot call allowed non-callables such as torch.float32', () => {
    const bytes = new PickleEmitter().proto(2).global('torch', 'float32').op(0x29, REDUCE).stop().bytes;
    expect(() => loadPytorchCheckpoint(checkpointWith(bytes, dirs.make()))).toThrow(PytorchCheckpointError);
    expect(() => loadPytorchCheckpoint(checkpointWith(bytes, dirs.make()))).toThrow(/REDUCE applied to TorchDType, which is not something Kiln can call/);
  });

  it('cannot smuggle a callable into a tensor rebuild', () => {
    // _rebuild_from_type_v2(func=collections.OrderedDict, ...) must not call OrderedDict as a rebuild.
    const bytes = new PickleEmitter().proto(2).global('torch._tensor', '_rebuild_from_type_v2')
      .op(0x28).global('collections', 'OrderedDict').global('torch', 'Tensor').op(0x29, 0x7d, 0x74, REDUCE).stop().bytes;
    expect(() => loadPytorchCheckpoint(checkpointWith(bytes, dirs.make()))).toThrow(/_rebuild_from_type_v2 was given collections\.OrderedDict instead of a tensor rebuild function/);
  });
});
