/**
 * Running ffmpeg and ffprobe as child processes. Kiln has no video codec of its own: mp4 in and
 * out goes through the `ffmpeg` and `ffprobe` programs, found on PATH or where the environment
 * variables KILN_FFMPEG and KILN_FFPROBE point. A "tool" here is one of those two programs; its
 * "stderr tail" is the last lines it printed, attached to errors so a failure explains itself.
 */
import { spawn } from 'node:child_process';
import { FfmpegError, FfmpegMissingError } from './errors.ts';

export const ffmpegCommand = (): string => process.env.KILN_FFMPEG || 'ffmpeg';
export const ffprobeCommand = (): string => process.env.KILN_FFPROBE || 'ffprobe';

const INSTALL_HINT = 'Install ffmpeg (Debian/Ubuntu: `sudo apt-get install ffmpeg`; macOS: `brew install ffmpeg`; ' +
  'or set KILN_FFMPEG and KILN_FFPROBE to the programs\' paths)';

const availability = new Map<string, Promise<boolean>>();

/** Whether `<command> -version` runs and succeeds; cached per command path. */
export function toolAvailable(command: string): Promise<boolean> {
  let known = availability.get(command);
  if (!known) {
    known = new Promise<boolean>((resolve) => {
      const child = spawn(command, ['-version'], { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
    availability.set(command, known);
  }
  return known;
}

/** Whether ffmpeg can be run (cached). */
export const ffmpegAvailable = (): Promise<boolean> => toolAvailable(ffmpegCommand());

/**
 * Throws FfmpegMissingError unless ffmpeg (and, when `probe`, ffprobe) can be run. `task` says what
 * needed it ("writing out.mp4"); `alternatives` says what the user can do instead.
 */
export async function requireFfmpeg(task: string, alternatives: string, probe = false): Promise<void> {
  const tools = probe ? [ffmpegCommand(), ffprobeCommand()] : [ffmpegCommand()];
  for (const tool of tools) {
    if (!(await toolAvailable(tool))) {
      throw new FfmpegMissingError(`${task} needs ffmpeg, but '${tool}' could not be run. ${INSTALL_HINT}, ${alternatives}.`);
    }
  }
}

export interface ToolRun {
  /** Called with each piece of stdout as it arrives (then `stdout` is empty). */
  onStdout?: (chunk: Buffer) => void;
  /**
   * Writes the tool's stdin. `write` resolves false once the tool has stopped reading (it exited
   * or closed the pipe); the caller should then stop and let the exit status explain why.
   */
  feed?: (write: (chunk: Uint8Array) => Promise<boolean>) => Promise<void>;
}

export interface ToolResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderrTail: string;
}

const TAIL_CHARS = 4000;

/**
 * Runs `command args`, streaming stdout and stdin as asked. Resolves with the exit status (the
 * caller decides what a failure means); rejects with FfmpegMissingError if it cannot start.
 */
export function runTool(command: string, args: readonly string[], run: ToolRun = {}): Promise<ToolResult> {
  return new Promise<ToolResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: [run.feed ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const stdoutChunks: Buffer[] = [];
    let stderr = '';
    let failure: unknown;
    let exited = false;
    let stdinOpen = Boolean(run.feed);
    let wake: (() => void) | undefined;

    child.stdout!.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      if (!run.onStdout) { stdoutChunks.push(chunk); return; }
      try { run.onStdout(chunk); } catch (err) { failure = err; child.kill('SIGKILL'); }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-TAIL_CHARS);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') {
        reject(new FfmpegMissingError(`'${command}' could not be run (${err.code}). ${INSTALL_HINT}.`));
      } else {
        reject(err);
      }
    });
    const stdinClosed = () => { stdinOpen = false; wake?.(); };
    if (child.stdin) {
      // EPIPE when the tool exits early is expected; its exit status and stderr say why.
      child.stdin.on('error', stdinClosed);
      child.stdin.on('close', stdinClosed);
    }
    const feeding = run.feed
      ? run.feed(async (chunk) => {
          const stdin = child.stdin!;
          if (!stdinOpen || exited) return false;
          if (stdin.write(chunk)) return true;
          await new Promise<void>((go) => { wake = go; stdin.once('drain', go); });
          wake = undefined;
          return stdinOpen && !exited;
        }).then(
          () => { child.stdin?.end(); },
          (err) => { failure ??= err; child.kill('SIGKILL'); },
        )
      : Promise.resolve();
    child.on('close', (code, signal) => {
      exited = true;
      wake?.();
      void feeding.then(() => {
        if (failure !== undefined) { reject(failure); return; }
        resolve({ code, signal, stdout: Buffer.concat(stdoutChunks), stderrTail: tailLines(stderr) });
      });
    });
  });
}

/** Runs a tool and throws FfmpegError (with `what` and its stderr tail) unless it exits with 0. */
export async function runToolOrThrow(command: string, args: readonly string[], what: string, run: ToolRun = {}): Promise<ToolResult> {
  const result = await runTool(command, args, run);
  if (result.code !== 0) {
    const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
    throw new FfmpegError(`${what}: ${command.split('/').pop()} ${status}.`, result.stderrTail);
  }
  return result;
}

function tailLines(text: string, lines = 12): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
