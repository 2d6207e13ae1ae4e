/**
 * Errors a user can cause while reading or writing media (a missing or undecodable file, an
 * unsupported extension, a video the VAE cannot take as is, ffmpeg not installed). They carry
 * `userFacing = true`, so the CLI prints the message alone; each message says what was wrong,
 * where, what was expected and how to fix it.
 */
export class MediaError extends Error {
  override name = 'MediaError';
  readonly userFacing = true;
}

/** ffmpeg or ffprobe is not installed (or not where KILN_FFMPEG / KILN_FFPROBE point). */
export class FfmpegMissingError extends MediaError {
  override name = 'FfmpegMissingError';
}

/** ffmpeg or ffprobe ran and failed; `stderrTail` holds the end of what it printed. */
export class FfmpegError extends MediaError {
  override name = 'FfmpegError';
  constructor(message: string, readonly stderrTail: string) {
    super(stderrTail ? `${message}\nffmpeg said:\n${indent(stderrTail)}` : message);
  }
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
}
