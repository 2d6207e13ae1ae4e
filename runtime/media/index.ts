/**
 * Image and video I/O for Kiln: reading media into 8-bit RGB Frames, converting Frames to and
 * from the VAE's pixel tensors, fitting them to the VAE's shape rules, and writing videos,
 * animations, images and frame folders atomically. See each module's header for its vocabulary.
 */
export { type Frames, type Clip, makeFrames, frameAt, describeFrames } from './frames.ts';
export { MediaError, FfmpegError, FfmpegMissingError } from './errors.ts';
export { framesToTensor, tensorToFrames } from './pixels.ts';
export {
  checkVaeInput, vaeFrameCounts, vaeSideTargets, trimFrames, padFrames, centerCrop, edgePad, resizeBilinear,
  type VaeInputOptions, type PreparedVaeInput, type MismatchPolicy, type FramePolicy, type SizePolicy,
} from './vae_input.ts';
export { readImage, readAnimation, writeImage, writeAnimation } from './image.ts';
export { readFrameFolder, writeFrameFolder, naturalCompare } from './frame_folder.ts';
export { readVideo, probeVideo, writeMp4, type VideoInfo } from './video.ts';
export { ffmpegAvailable } from './ffmpeg.ts';
export {
  readMedia, writeVideo, outputKindOf, checkOutputPath,
  type Media, type MediaKind, type OutputKind, type WriteVideoOptions,
} from './media.ts';
export { makeSampleClip, makeSampleImage, writeSampleMedia, type SampleFiles } from './sample.ts';
