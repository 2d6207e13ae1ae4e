/**
 * Runs a TypeScript script in a child Node process (through tsx's loader), for tests that need
 * a fresh process: a different device backend, a broken driver environment, or how the process
 * itself ends.
 */
import { spawn } from 'node:child_process';
import { tsxLoaderUrl } from '../../runtime/gpu/adapter-probe.ts';

export interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `script` with `args` and `env` added to this process's environment; killed after 60 s. */
export function runTsChild(script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
