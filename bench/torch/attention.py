"""PyTorch timings of softmax attention, for bench/figures/attention.ts.

Reads a JSON job on stdin: {"heads", "tokens", "dim", "repeats", "threads"}. Writes {"cpu_ms",
"threads", "version"}: the best of N timed runs on the CPU after one warm-up, of
softmax(q kᵀ / √d) v in f32 as PyTorch users write it. Where this PyTorch has CUDA and sees a
GPU, also "cuda_f32_ms" (the same sum in f32, TF32 off, as Kiln's scalar kernel computes) and,
with PyTorch 2's fused scaled_dot_product_attention, "cuda_sdpa_f16_ms" (f16: the tensor-core
kernels' peer), each timed after a synchronize, with "cuda_device".
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

from timing import best_ms


def attention(q, k, v):
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v


def main():
    job = json.load(sys.stdin)
    repeats = int(job.get("repeats", 3))
    torch.set_num_threads(int(job.get("threads") or os.cpu_count() or 1))
    shape = (job["heads"], job["tokens"], job["dim"])
    torch.manual_seed(0)
    q, k, v = (torch.rand(shape) * 4 - 2, torch.rand(shape) * 4 - 2, torch.rand(shape) * 2 - 1)
    out = {"threads": torch.get_num_threads(), "version": torch.__version__}
    with torch.no_grad():
        out["cpu_ms"] = best_ms(lambda: attention(q, k, v), repeats)
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            out["cuda_device"] = torch.cuda.get_device_name(0)
            qc, kc, vc = q.cuda(), k.cuda(), v.cuda()
            sync = torch.cuda.synchronize
            out["cuda_f32_ms"] = best_ms(lambda: attention(qc, kc, vc), max(repeats, 10), sync)
            if hasattr(F, "scaled_dot_product_attention"):
                qh, kh, vh = (t.half().unsqueeze(0) for t in (qc, kc, vc))
                out["cuda_sdpa_f16_ms"] = best_ms(lambda: F.scaled_dot_product_attention(qh, kh, vh), max(repeats, 10), sync)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
