/**
 * `kiln golden FILE...`: run golden case files (reference outputs of the original PyTorch code)
 * through Kiln and report, for every output, the max absolute and relative L2 errors against
 * the reference and the tolerance from the file's metadata. Exits 1 if any output is outside.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { formatUserError, isUserError } from '../errors.ts';
import { UnsupportedGoldenError } from '../../models/golden/adapter.ts';
import { formatReport, runGoldenCase, type CaseReport } from '../../models/golden/run.ts';
import { supportedClasses } from '../../models/golden/registry.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import { openDeviceGroup, type DeviceGroup } from '../../runtime/device_group.ts';
import { intOption } from '../number_options.ts';
import type { BackendName } from '../../runtime/model.ts';

const HELP = `Usage: kiln golden FILE|DIR... [options]

Runs golden case files — .safetensors files holding a module's weights, inputs, the reference
outputs of the original PyTorch code and per-output tolerances (format: the golden README) —
through Kiln, and prints each output's max abs error and relative L2 error with the tolerance.
A folder stands for every .safetensors file in it; there, cases of upstream classes Kiln has no
model for yet are listed as skipped, with the reason, and the others still run.

Options:
  --backend webgpu|interp  webgpu (default): compile to fused WGSL and run on the GPU (Dawn).
                           interp: the float64 reference interpreter on the CPU.
  --dtype f32|f16          Storage dtype of weights and activations on the GPU (webgpu; default
                           f32). f16 halves memory and bandwidth, keeps f32 arithmetic, needs the
                           adapter's shader-f16, and is checked against the golden README's f16
                           tolerance ("roughly 1e-3 relative": relative L2 within 3e-3, max abs
                           within 5e-3 of the reference's largest magnitude) instead of the
                           file's f32 bounds.
  --devices N              Run the transformer (its own cases and the pipeline's) by sequence
                           parallelism over N devices: the machine's first N GPUs, or N devices
                           sharing the one adapter where it lists none (see kiln i2v --help).
                           Cases whose heads N devices cannot share are skipped, saying why.
  --no-fuse                One kernel per IR op (webgpu; for debugging fusion).
  --dump-wgsl DIR          Write the generated kernels of every program under DIR.
  --verbose                Print what each call ran (tiles, tiling paths).
  -h, --help               Show this help.

Exit status: 0 when every case run has every output within tolerance, 1 when any is not (or a
case named on the command line cannot be run, or a folder had nothing Kiln runs), 2 on a usage
error.

Supported upstream classes: ${supportedClasses().join(', ')}.`;

/** A case file to run, and whether the user named it (rather than a folder holding it). */
interface CaseFile {
  readonly path: string;
  readonly named: boolean;
}

function expand(paths: readonly string[]): CaseFile[] {
  const out: CaseFile[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const files = readdirSync(p).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(p, f));
      if (!files.length) throw new UsageError(`${p}: the folder holds no .safetensors files`);
      out.push(...files.map((path) => ({ path, named: false })));
    } else {
      out.push({ path: p, named: true });
    }
  }
  return out;
}

export const goldenCommand: Command = {
  name: 'golden',
  summary: 'Check Kiln against golden reference outputs of the original PyTorch code',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        backend: { type: 'string', default: 'webgpu' },
        dtype: { type: 'string', default: 'f32' },
        'no-fuse': { type: 'boolean', default: false },
        devices: { type: 'string' },
        'dump-wgsl': { type: 'string' },
        verbose: { type: 'boolean', default: false },
      },
    });
    const backend = values.backend as BackendName;
    if (backend !== 'webgpu' && backend !== 'interp') throw new UsageError(`--backend must be webgpu or interp, not '${values.backend}'`);
    if (values.dtype !== 'f32' && values.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, not '${values.dtype}'`);
    if (values.dtype === 'f16' && backend !== 'webgpu') throw new UsageError('--dtype f16 chooses how tensors are stored on the GPU, so it needs --backend webgpu');
    const dtype = values.dtype;
    if (positionals.length === 0) throw new UsageError('give at least one golden case file or folder (see kiln golden --help)');
    const files = expand(positionals);
    const devices = intOption(values, 'devices', 1, 64) ?? 1;
    const device = backend === 'webgpu' ? await acquireDevice() : undefined;
    const session = { backend, fuse: !values['no-fuse'], dumpWgsl: values['dump-wgsl'], dtype } as const;
    let group: DeviceGroup | undefined;
    if (devices > 1 && backend === 'webgpu') {
      try {
        group = await openDeviceGroup(devices);
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(`--devices ${devices}: ${err.message}`);
        throw err;
      }
    }
    const parallel = devices === 1 ? undefined : group ? group.devices.map((d) => ({ ...session, device: d })) : Array.from({ length: devices }, () => session);
    const reports: CaseReport[] = [];
    // Cases that could not run: a folder's cases of classes Kiln has no model for are skipped;
    // a named one, or a malformed file, counts as a failure. Either way the others still run.
    const skipped: string[] = [];
    const unrun: string[] = [];
    try {
      for (const f of files) {
        try {
          const r = await runGoldenCase(f.path, {
            backend,
            device,
            session: { ...session, device },
            parallel,
            log: (line) => { if (values.verbose) console.log(`  · ${line}`); },
          });
          reports.push(r);
          console.log(formatReport(r));
        } catch (e) {
          if (!isUserError(e)) throw e;
          const name = basename(f.path, '.safetensors');
          const skip = e instanceof UnsupportedGoldenError && !f.named;
          (skip ? skipped : unrun).push(name);
          console.log(`${skip ? 'SKIP' : 'FAIL'} ${formatUserError(e)}`);
        }
      }
    } finally {
      group?.release();
      if (device) await releaseDevice();
    }
    const failed = [...reports.filter((r) => !r.pass).map((r) => r.caseName), ...unrun];
    const ran = reports.length + unrun.length;
    console.log(`\n${ran - failed.length}/${ran} golden cases pass (${backend}${dtype === 'f16' ? ', f16 storage' : ''}${devices > 1 ? `, the transformer on ${devices} devices` : ''})` +
      `${failed.length ? `; failing: ${failed.join(', ')}` : ''}${skipped.length ? `; ${skipped.length} skipped (${devices > 1 ? 'no Kiln model yet, or not on this many devices' : 'no Kiln model yet'}): ${skipped.join(', ')}` : ''}`);
    if (ran === 0) {
      console.log(`No case was run: Kiln has no model for any of them${devices > 1 ? `, or none runs on ${devices} devices (see SKIP above)` : ''} (see the supported classes in kiln golden --help).`);
      return 1;
    }
    return failed.length ? 1 : 0;
  },
};
