/**
 * Adapter probing: what each backend offers, for `kiln devices` and for the NoAdapterError
 * message. Dawn, the Vulkan loader and EGL print their reasons for finding nothing straight to
 * the process's stderr (not through any API), so each backend is probed in a short-lived child
 * process whose stderr is captured. That also keeps no Dawn instance or device alive here.
 *
 * Vocabulary
 * - BackendReport: the adapters one backend gave, plus what the driver stack printed.
 * - AdapterFound: one adapter's identity, Kiln limits, features and feature level.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TargetAdapter, TargetLimits } from '../../compiler/target.ts';
import { readAdapter, readLimits } from './adapter-info.ts';
import { adapterNames, adapterOptions, dawnInstance, type Backend } from './dawn.ts';

export interface AdapterFound {
  /** Dawn's adapter name (what `adapter=` selects by). */
  readonly name: string;
  readonly adapter: TargetAdapter;
  readonly limits: TargetLimits;
  /** Every feature the adapter offers, sorted. */
  readonly features: readonly string[];
  readonly featureLevel: 'core' | 'compatibility';
}

export interface BackendReport {
  readonly backend: Backend;
  readonly adapters: readonly AdapterFound[];
  /** Lines Dawn and the drivers printed while probing (empty lines dropped). */
  readonly messages: readonly string[];
  /** Why probing itself failed (requestAdapter threw, the child crashed or timed out). */
  readonly error?: string;
}

/** Probes one backend in this process. Used by the child; prints nothing itself. */
export async function probeBackendHere(backend: Backend): Promise<Omit<BackendReport, 'messages'>> {
  const adapters: AdapterFound[] = [];
  try {
    const names = await adapterNames(backend);
    // Several identical GPUs share one name: Dawn can only select the first of them by name.
    for (const name of names.length ? [...new Set(names)] : [undefined]) {
      const adapter = await dawnInstance(backend, name).requestAdapter(adapterOptions(backend));
      if (adapter) {
        adapters.push({
          name: name ?? adapter.info.description,
          adapter: readAdapter(adapter, backend),
          limits: readLimits(adapter.limits),
          features: [...adapter.features].sort(),
          featureLevel: adapter.features.has('core-features-and-limits') ? 'core' : 'compatibility',
        });
      }
    }
    return { backend, adapters };
  } catch (err) {
    return { backend, adapters, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Marks the child's one line of JSON on stdout, so stray driver output there is ignored. */
export const PROBE_MARK = 'KILN_PROBE_RESULT ';

const probeMain = fileURLToPath(new URL('./adapter-probe-main.ts', import.meta.url));

/** The file URL of tsx's loader, for `node --import` in child processes that run TypeScript. */
export function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

/** Probes one backend in a child process, capturing what the driver stack prints. */
export function probeBackend(backend: Backend, timeoutMs = 60_000): Promise<BackendReport> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), probeMain, backend], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finish = (problem?: string): void => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(PROBE_MARK));
      const stray = out.split('\n').filter((l) => !l.startsWith(PROBE_MARK));
      // Each backend is asked twice (enumerate, then select), so drivers repeat themselves.
      const messages = [...new Set([...stray, ...err.split('\n')].map((l) => l.trimEnd()).filter((l) => l.trim() !== ''))];
      if (line) {
        const found = JSON.parse(line.slice(PROBE_MARK.length)) as Omit<BackendReport, 'messages'>;
        resolve({ ...found, messages });
      } else {
        resolve({ backend, adapters: [], messages, error: problem ?? 'the probe process printed no result' });
      }
    };
    child.on('error', (e) => finish(`could not start the probe process: ${e.message}`));
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') finish(`the probe timed out after ${timeoutMs / 1000} s`);
      else finish(code === 0 ? undefined : `the probe process exited with ${signal ?? `code ${code}`}`);
    });
  });
}

/** Every backend Kiln can use, probed one after the other (they compete for the same CPU). */
export async function probeAllBackends(backends: readonly Backend[] = ['vulkan', 'opengles']): Promise<BackendReport[]> {
  const reports: BackendReport[] = [];
  for (const b of backends) reports.push(await probeBackend(b));
  return reports;
}
