"""HunyuanVideo's causal 3D VAE decoder in plain PyTorch, for bench/figures/vae.ts.

Written for this benchmark from the architecture as Kiln's models/hunyuan_vae/*.kiln states it
(causal replicate padding, ResNet blocks of GroupNorm-SiLU-conv, causal nearest upsampling, a
mid block with block-causal single-head attention); it loads the state-dict keys of the
released checkpoint from a safetensors file that Kiln writes, and computes
decode(z) = decoder(post_quant_conv(z)).

Job on stdin: {"weights": PATH, "config": {...VaeConfig}, "latents": PATH (raw float32),
"shape": [B, C, T, H, W], "out": PATH (raw float32 written), "repeats": N, "threads": T}.
Answer on stdout: {"ms": best of N runs after a warm-up, "shape": output shape, "threads", "version"};
where this PyTorch has CUDA and sees a GPU, also "cuda_ms" (the same decode on the GPU, f32 with
TF32 off, timed after a synchronize) and "cuda_device". The output written is the CPU one.
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[key] = torch.from_numpy(arr.astype(np.float32))
    return out


class Weights:
    def __init__(self, tensors):
        self.t = tensors

    def __call__(self, key):
        return self.t[key]

    def to(self, device):
        return Weights({k: v.to(device) for k, v in self.t.items()})


def best_ms(fn, repeats, sync=lambda: None):
    y = fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = fn()
        sync()
        best = min(best, (time.perf_counter() - t0) * 1000.0)
    return best, y


def causal_conv(w, prefix, x, stride=(1, 1, 1)):
    weight = w(prefix + ".conv.weight")
    k = weight.shape[2]
    p = k // 2
    x = F.pad(x, (p, p, p, p, k - 1, 0), mode="replicate")
    return F.conv3d(x, weight, w(prefix + ".conv.bias"), stride=stride)


def resnet(w, prefix, x, groups):
    h = F.silu(F.group_norm(x, groups, w(prefix + ".norm1.weight"), w(prefix + ".norm1.bias"), 1e-6))
    h = causal_conv(w, prefix + ".conv1", h)
    h = F.silu(F.group_norm(h, groups, w(prefix + ".norm2.weight"), w(prefix + ".norm2.bias"), 1e-6))
    h = causal_conv(w, prefix + ".conv2", h)
    skip = causal_conv(w, prefix + ".conv_shortcut", x) if (prefix + ".conv_shortcut.conv.weight") in w.t else x
    return skip + h


def upsample(w, prefix, x, ft, fs):
    # Frame 0 in space only; the others also in time (T -> 1 + ft (T - 1)).
    first = x[:, :, :1].repeat_interleave(fs, dim=3).repeat_interleave(fs, dim=4)
    parts = [first]
    if x.shape[2] > 1:
        rest = x[:, :, 1:].repeat_interleave(ft, dim=2).repeat_interleave(fs, dim=3).repeat_interleave(fs, dim=4)
        parts.append(rest)
    return causal_conv(w, prefix + ".conv", torch.cat(parts, dim=2))


def linear(w, prefix, x):
    return F.linear(x, w(prefix + ".weight"), w(prefix + ".bias"))


def attention(w, prefix, x, groups):
    b, c, t, hh, ww = x.shape
    tokens = x.reshape(b, c, t * hh * ww)
    normed = F.group_norm(tokens, groups, w(prefix + ".group_norm.weight"), w(prefix + ".group_norm.bias"), 1e-6).transpose(1, 2)
    q = linear(w, prefix + ".to_q", normed)
    k = linear(w, prefix + ".to_k", normed)
    v = linear(w, prefix + ".to_v", normed)
    frame = torch.arange(t * hh * ww, device=x.device) // (hh * ww)
    mask = torch.zeros(t * hh * ww, t * hh * ww, device=x.device)
    mask[frame[None, :] > frame[:, None]] = float("-inf")
    scores = q @ k.transpose(1, 2) / math.sqrt(c) + mask
    o = torch.softmax(scores, dim=-1) @ v
    y = linear(w, prefix + ".to_out.0", o) + tokens.transpose(1, 2)
    return y.transpose(1, 2).reshape(b, c, t, hh, ww)


def decode(w, cfg, z):
    levels = len(cfg["block_out_channels"])
    groups = cfg["norm_num_groups"]
    h = F.conv3d(z, w("post_quant_conv.weight"), w("post_quant_conv.bias"))
    h = causal_conv(w, "decoder.conv_in", h)
    h = resnet(w, "decoder.mid_block.resnets.0", h, groups)
    if cfg.get("mid_block_add_attention", True):
        h = attention(w, "decoder.mid_block.attentions.0", h, groups)
    h = resnet(w, "decoder.mid_block.resnets.1", h, groups)
    space_levels = int(math.log2(cfg["spatial_compression_ratio"]))
    time_levels = int(math.log2(cfg["time_compression_ratio"]))
    for i in range(levels):
        prefix = "decoder.up_blocks.%d" % i
        for j in range(cfg["layers_per_block"] + 1):
            h = resnet(w, "%s.resnets.%d" % (prefix, j), h, groups)
        space = i < space_levels
        tim = i >= levels - 1 - time_levels and i != levels - 1
        if space or tim:
            h = upsample(w, prefix + ".upsamplers.0", h, 2 if tim else 1, 2 if space else 1)
    h = F.silu(F.group_norm(h, groups, w("decoder.conv_norm_out.weight"), w("decoder.conv_norm_out.bias"), 1e-6))
    return causal_conv(w, "decoder.conv_out", h)


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(int(job.get("threads") or os.cpu_count() or 1))
    w = Weights(read_safetensors(job["weights"]))
    z = torch.from_numpy(np.fromfile(job["latents"], dtype=np.float32).reshape(job["shape"]))
    repeats = int(job.get("repeats", 2))
    answer = {"threads": torch.get_num_threads(), "version": torch.__version__}
    with torch.no_grad():
        answer["ms"], y = best_ms(lambda: decode(w, job["config"], z), repeats)
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            wg, zg = w.to("cuda"), z.to("cuda")
            answer["cuda_device"] = torch.cuda.get_device_name(0)
            answer["cuda_ms"], _ = best_ms(lambda: decode(wg, job["config"], zg), max(repeats, 5), torch.cuda.synchronize)
    y.numpy().astype(np.float32).tofile(job["out"])
    answer["shape"] = list(y.shape)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
