/**
 * `kiln vae`: HunyuanVideo's causal 3D VAE from the command line — `encode` media to latents,
 * `decode` latents to video, and `demo`, the round trip on a generated clip. The subcommands
 * live in cli/commands/vae/; this file routes to them and holds the help text.
 */
import { UsageError, type Command } from '../command.ts';
import { runDecode } from './vae/decode.ts';
import { runDemo } from './vae/demo.ts';
import { runEncode } from './vae/encode.ts';

const HELP = `Usage:
  kiln vae encode INPUT [--out LATENTS.safetensors] [options]
  kiln vae decode LATENTS.safetensors [--out OUTPUT] [options]
  kiln vae demo [--out DIR] [--frames N] [--size S] [options]

Encodes images and videos to latents and decodes latents to video with HunyuanVideo's causal
3D VAE, compiled to fused WGSL kernels (or run by the reference interpreter).

encode INPUT: a PNG/JPEG/WebP image, an animated GIF/WebP, a video (mp4, mov, mkv, webm...,
  read through ffmpeg) or a folder of PNG/JPEG frames. Pixels go to the VAE in [-1, 1]. The
  VAE needs 4k+1 frames (1, 5, 9, 13, ...) and a width and height that are multiples of 8; a
  mismatch is an error unless you say how to fit it:
    --trim               keep the largest 4k+1 frames (drop the rest at the end)
    --pad                repeat the last frame up to the next 4k+1, and edge-pad the size
    --crop               center-crop the size down to multiples of 8
    --resize             scale each side to its nearest multiple of 8 (bilinear)
    --max-frames N       read at most N frames
    --sample             store a draw mean + std·ε from the posterior instead of its mean
                         (the mean is upstream's mode(), what the I2V pipeline encodes with)
    --seed N             the draw's seed (default 0); ε comes from Kiln's counter-based
                         generator, so a seed gives the same latents on every machine
    --scale              multiply the latents by the config's scaling_factor (0.476986 for
                         the released VAE): the space HunyuanVideo's transformer works in.
                         Default: unscaled, the VAE's own latents. The file records which.
  --out defaults to INPUT's name with .latents.safetensors, in the current folder. The file
  holds one tensor "latents" [1, C, k+1, H/8, W/8] (F32) and metadata: scaled or not, the
  scaling factor, mode or sample (and seed), the VAE config, the weights, and the source's
  size, frame count, fps and any trimming/cropping.

decode LATENTS: writes clamp((x+1)/2, 0, 1) of the decoder's output (as HunyuanVideo's
  pipeline does) as the output's name asks: .mp4 (H.264 through ffmpeg), .gif or .webp
  (looping), .png/.jpg for a single frame, or a folder of PNG frames (a name ending in /).
  Default: the latents' name with .decoded.mp4 (.gif without ffmpeg; .png for one frame).
    --fps N              frame rate (default: the encoded source's, else 24)
    --scaled / --unscaled  whether the latents were multiplied by scaling_factor (decode then
                         divides by it first). Default: what the file's metadata says, else
                         unscaled.
  Latents are checked before any work: shape [1, C, n, h, w] (or [C, n, h, w]) with C the
  config's latent_channels.

demo: makes a 9-frame 64×64 sample clip, encodes and decodes it, and writes
  DIR/demo_input.mp4, DIR/demo_latents.safetensors and DIR/demo_reconstruction.mp4 (.gif
  without ffmpeg; DIR defaults to out/), then prints each stage's time and each program's
  planned peak memory. --frames N (4k+1) and --size S (a multiple of 8) change the clip.

Model options (all subcommands):
  --weights, -w PATH     the VAE checkpoint: HunyuanVideo's pytorch_model.pt (read without
                         running its pickle code), a .safetensors file, a shard index, or a
                         folder holding one (the released vae/ folder, HunyuanVideo's ckpts/
                         folder, a diffusers pipeline or VAE folder).
                         A top-level "state_dict" entry is unwrapped and, if any key starts
                         with "vae.", only those keys are kept, without the prefix.
                         Without --weights: a built-in tiny VAE with deterministic random
                         weights (untrained — outputs do not resemble inputs; for trying
                         Kiln out and for tests).
  --config FILE          the VAE's config.json. Default: config.json beside the weights, else
                         the released HunyuanVideo VAE config (latent 16, 128/256/512/512).
  --backend webgpu|interp  webgpu (default): fused WGSL kernels on the GPU through Dawn.
                         interp: the float64 reference interpreter on the CPU (slow; exact).
  --dtype f32|f16        how weights and activations are stored on the GPU (default f32); f16
                         needs the adapter's shader-f16 feature and halves memory; arithmetic
                         stays f32.
  --tile / --no-tile     force upstream's spatial+temporal tiling on or off. Default: decode
                         tiles as HunyuanVideo's pipeline does (enable_tiling() before
                         decoding); encode does not, as upstream's first encode in a process.
                         Either way tiling only applies above one tile's size.
  --tile-size PX         spatial tile in pixels (config sample_size: 256 for the released VAE,
                         64 for the built-in one); a multiple of 32 so tiles assemble exactly.
  --tile-frames N        temporal tile in frames (config sample_tsize: 64 released, 16 built-in);
                         a multiple of 16.
  --memory-budget MB     the most memory a program may plan to use (default: half the host's
                         memory on a CPU adapter such as lavapipe, the adapter's largest buffer
                         on a GPU, since WebGPU does not report device memory).
  --profile              print per-kernel GPU times, summed over tiles.
  --dump-wgsl DIR        write every compiled program's kernels under DIR.
  --quiet, -q            no progress or information lines (warnings and results still print).
  --out, -o PATH         where to write (see each subcommand).

Auto-tiling: unless you pass --tile or --no-tile, every run is planned first; when the
program does not compile for the device (a tensor above its binding limit) or its planned peak
is over the memory budget, Kiln turns tiling on — and, if needed, shrinks the tiles — and
prints one line saying so and why. The planned peak of every distinct program is printed
before the run. Tiled results differ slightly from untiled ones (upstream's behaviour too).

Examples:
  kiln vae demo
  kiln vae encode photo.png --weights ckpts/hunyuan-video-i2v-720p/vae --out photo.latents.safetensors
  kiln vae encode clip.mp4 --trim --crop -w vae/pytorch_model.pt --out clip.latents.safetensors
  kiln vae encode clip.mp4 --sample --seed 7 --scale -w vae.safetensors -o clip.scaled.safetensors
  kiln vae decode clip.latents.safetensors -w vae/pytorch_model.pt --out clip.mp4
  kiln vae decode dit_out.safetensors --scaled -w vae.safetensors --out frames/
  kiln vae decode clip.latents.safetensors --backend interp --out first.png

Exit status: 0 on success, 1 when an input, checkpoint or device is unusable (the message says
why and how to fix it), 2 on a usage error.`;

const SUBCOMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  encode: runEncode,
  decode: runDecode,
  demo: runDemo,
};

export const vaeCommand: Command = {
  name: 'vae',
  summary: 'Encode images/videos to latents and decode latents to video with HunyuanVideo\'s VAE (demo: try it)',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!run) {
      const what = sub === undefined ? 'a subcommand is needed' : `unknown subcommand '${sub}'`;
      throw new UsageError(`${what}: use encode, decode or demo (see kiln vae --help)`);
    }
    return run(rest);
  },
};
