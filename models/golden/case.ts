/**
 * A golden case file (../shared/golden/README.md): one safetensors file holding the module's
 * weights under their state-dict keys, `input.*` tensors, reference `output.*` (F32) and, for
 * small outputs, `output_f64.*`, plus metadata: the upstream class, its constructor config,
 * the calls that were made, and a tolerance per output.
 */
import { openSafetensors, type SafetensorsFile } from '../../runtime/weights/safetensors.ts';
import type { SessionWeights } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';

export interface GoldenCall {
  readonly method?: string;
  readonly function?: string;
  readonly args?: readonly string[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  readonly returns?: string;
  readonly setup?: unknown;
  readonly aux?: string;
  readonly [k: string]: unknown;
}

export interface Tolerance {
  readonly atol: number;
  readonly rel_l2: number;
}

export class GoldenFormatError extends Error {
  readonly userFacing = true;
  override name = 'GoldenFormatError';
}

export class GoldenCase {
  readonly file: SafetensorsFile;
  readonly className: string;
  readonly module: string;
  readonly caseName: string;
  readonly constructorConfig: Readonly<Record<string, unknown>>;
  readonly calls: readonly GoldenCall[];
  readonly tolerance: Readonly<Record<string, Tolerance>>;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(readonly path: string) {
    this.file = openSafetensors(path);
    const md = this.file.metadata;
    this.metadata = md;
    const need = (k: string): string => {
      const v = md[k];
      if (v === undefined) throw new GoldenFormatError(`${path}: not a golden case file: the metadata has no '${k}' (see the golden format README)`);
      return v;
    };
    const parse = <T>(k: string): T => {
      try {
        return JSON.parse(need(k)) as T;
      } catch (e) {
        if (e instanceof GoldenFormatError) throw e;
        throw new GoldenFormatError(`${path}: metadata '${k}' is not valid JSON`);
      }
    };
    this.module = md.module ?? '';
    this.className = md.class_name ?? this.module.split('.').pop() ?? '';
    if (!this.className) need('class_name');
    this.caseName = md.case ?? path.replace(/^.*\//, '').replace(/\.safetensors$/, '');
    const config = parse<{ constructor?: Record<string, unknown>; calls?: GoldenCall[] }>('config');
    this.constructorConfig = config.constructor ?? {};
    this.calls = config.calls ?? [];
    this.tolerance = parse<Record<string, Tolerance>>('tolerance');
  }

  has(name: string): boolean {
    return this.file.has(name);
  }

  tensor(name: string): HostTensor {
    if (!this.file.has(name)) throw new GoldenFormatError(`${this.path}: the case has no tensor '${name}'`);
    return this.file.read(name);
  }

  /** Reference for output `name`: the float64 copy when present, else the F32 one. */
  reference(name: string): HostTensor {
    return this.has(`output_f64.${name}`) ? this.tensor(`output_f64.${name}`) : this.tensor(`output.${name}`);
  }

  /** Names of the reference outputs (without the `output.` prefix). */
  outputNames(): string[] {
    return this.file.names.filter((n) => n.startsWith('output.')).map((n) => n.slice('output.'.length));
  }

  /** The module's weights (every tensor that is not an input or output), optionally under a key prefix which is stripped. */
  weights(prefix = ''): SessionWeights {
    const keys = this.file.names.filter((n) => !n.startsWith('input.') && !n.startsWith('output.') && !n.startsWith('output_f64.') && n.startsWith(prefix));
    const set = new Set(keys);
    return {
      path: this.path,
      keys: () => keys.map((k) => k.slice(prefix.length)),
      info: (k) => {
        const e = this.file.entry(prefix + k);
        return { shape: e.shape, dtype: e.dtype };
      },
      read: (k) => {
        if (!set.has(prefix + k)) throw new GoldenFormatError(`${this.path}: no weight ${k}`);
        return this.file.read(prefix + k);
      },
    };
  }

  close(): void {
    this.file.close();
  }
}
