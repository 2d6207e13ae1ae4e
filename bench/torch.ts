/**
 * PyTorch on the CPU as a peer: finds a python3 that can `import torch` (the default python3
 * first, then Debian's /usr/bin/python3 — `apt-get install python3-torch` gives 1.13 there),
 * and runs the scripts in bench/torch/ with a JSON job on stdin, reading a JSON answer from
 * stdout. Each script is an independent implementation (not Kiln's code, not upstream's).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR } from './context.ts';

export interface TorchRunner {
  readonly python: string;
  readonly version: string;
  readonly threads: number;
  run<T>(script: string, job: unknown, timeoutMs?: number): T;
}

export const TORCH_INSTALL_HINT = 'install PyTorch for Debian\'s python3 with `apt-get install -y python3-torch` (1.13), or `pip install torch` for your python3';

/** A runner, or a sentence saying why there is none. */
export function findTorch(): TorchRunner | string {
  const tried: string[] = [];
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__); print(torch.get_num_threads())'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) {
      const [version, threads] = r.stdout.trim().split('\n');
      return {
        python, version, threads: Number(threads),
        run<T>(script: string, job: unknown, timeoutMs = 600_000): T {
          const out = execFileSync(python, [join(BENCH_DIR, 'torch', script)], { input: JSON.stringify(job), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 });
          return JSON.parse(out) as T;
        },
      };
    }
    tried.push(`${python}: ${(r.stderr || r.error?.message || 'failed').trim().split('\n').pop()}`);
  }
  return `no python3 here can import torch (${tried.join('; ')}); ${TORCH_INSTALL_HINT}`;
}
