/**
 * The committed example bindings (examples/gelu_mlp.bindings.ts): they are what the emitter
 * writes today, the example program using them type-checks and computes the MLP (checked
 * against an independent implementation), and the mistakes examples/README.md shows are
 * exactly the type errors TypeScript reports.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { emitBindings } from '../../../compiler/bindings/emit_ts.ts';
import { resolveEntry } from '../../../compiler/bindings/entry.ts';
import { loadProgram } from '../../../dsl/program.ts';
import { openSafetensors } from '../../../runtime/weights/safetensors.ts';
import { writeGeluMlpData } from '../../../examples/gelu_mlp_data.ts';
import { runMlp, exampleInput } from '../../../examples/gelu_mlp_use.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { EXAMPLE, EXAMPLE_CONFIG, ROOT, geluMlp, maxAbsDiff } from './gelu_mlp_reference.ts';

const BINDINGS = join(ROOT, 'examples/gelu_mlp.bindings.ts');
const USE = join(ROOT, 'examples/gelu_mlp_use.ts');
/** The command examples/README.md gives for regenerating the bindings. */
const COMMAND = 'kiln compile examples/gelu_mlp.kiln --entry GeluMLP --config examples/gelu_mlp.json --emit-ts examples/gelu_mlp.bindings.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, types: ['node'],
  typeRoots: [join(ROOT, 'node_modules/@types')],
};

describe('examples/gelu_mlp bindings', () => {
  it('are up to date with the emitter and the source (regenerate with the README command if not)', () => {
    const config = JSON.parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as Record<string, unknown>;
    const entry = resolveEntry(loadProgram([EXAMPLE]), 'GeluMLP');
    const bound = bindModule(entry.program, entry.moduleName, config);
    const fresh = emitBindings({
      entry, config, instance: bound.instance, weights: bound.weights, sources: [EXAMPLE], outFile: BINDINGS,
      generatedBy: COMMAND,
    });
    expect(readFileSync(BINDINGS, 'utf8')).toBe(fresh.text);
  });

  it('type-check in the example program, and the README mistakes are exactly the errors it names', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const rel = (p: string) => {
      const r = relative(dir, p);
      return r.startsWith('.') ? r : `./${r}`;
    };
    const mistakes = join(dir, 'mistakes.ts');
    writeFileSync(mistakes, [
      `import { tensor } from '${rel(join(ROOT, 'runtime/bindings_runtime.ts'))}';`,
      `import { load } from '${rel(BINDINGS)}';`,
      '',
      "const mlp = await load('/tmp/mlp/weights.safetensors', { backend: 'interp' });",
      "await mlp.forward({ y: tensor('f32', [2, 5, 8]) });",
      "await mlp.forward({ x: tensor('i32', [2, 5, 8]) });",
      "await mlp.forward({ x: tensor('f32', [2, 5, 9]) });",
      'await mlp.release();',
      '',
    ].join('\n'));
    const program = ts.createProgram([USE, mistakes], options);
    const diags = (file: string) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ({
      line: d.file!.getLineAndCharacterOfPosition(d.start!).line + 1, code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    }));
    expect(diags(USE)).toEqual([]);
    expect(diags(BINDINGS)).toEqual([]);
    const got = diags(mistakes);
    expect(got.map((d) => [d.line, d.code])).toEqual([[5, 2353], [6, 2322], [7, 2322]]);
    expect(got[0].message).toContain("'y' does not exist in type 'ForwardInputs<");
    expect(got[1].message).toContain(`Type '"i32"' is not assignable to type '"f32"'`);
    expect(got[2].message).toContain("Type '9' is not assignable to type '8'");
  });

  it('compute the MLP in the example program', async () => {
    const data = writeGeluMlpData(dirs.make());
    const w = openSafetensors(data.weights);
    const weights = w.readAll();
    w.close();
    const x = exampleInput();
    const want = geluMlp(weights, { dtype: 'F32', shape: [2, 5, 8], data: x.data });
    const got = await runMlp(data.weights, 'interp');
    expect(got.out.shape).toEqual([2, 5, 8]);
    expect(got.h.shape).toEqual([2, 5, 32]);
    expect(maxAbsDiff(got.out.data, want.y)).toBeLessThan(1e-6);
    expect(maxAbsDiff(got.y.data, want.y)).toBeLessThan(1e-6);
    expect(maxAbsDiff(got.h.data, want.h)).toBeLessThan(1e-6);
  });
});
