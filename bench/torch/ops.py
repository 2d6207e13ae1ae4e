"""PyTorch timings of the benchmark's single ops, for bench/figures/contractions.ts.

Reads a JSON job on stdin: {"conv3d": {"cin", "cout", "t", "h", "w"}, "matmul": {"m", "k", "n"},
"repeats": N, "threads": T}. Writes {"conv3d_ms", "matmul_ms", "threads", "version"}: the best of N timed
runs on the CPU after one warm-up, with the causal convolution written as PyTorch users write it
(replicate pad in front in time and around in space, then conv3d with bias). Where this PyTorch
has CUDA and sees a GPU, the same ops are timed there too ("conv3d_cuda_ms", "matmul_cuda_ms",
"cuda_device"; f32 with TF32 off, as Kiln computes, each timed after a synchronize).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

from timing import best_ms


def time_ops(job, device, repeats, sync, suffix, out):
    torch.manual_seed(0)
    if "conv3d" in job:
        c = job["conv3d"]
        x = (torch.rand(1, c["cin"], c["t"], c["h"], c["w"]) * 2 - 1).to(device)
        w = (torch.randn(c["cout"], c["cin"], 3, 3, 3) / (c["cin"] * 27) ** 0.5).to(device)
        b = (torch.randn(c["cout"]) * 0.1).to(device)

        def conv():
            return F.conv3d(F.pad(x, (1, 1, 1, 1, 2, 0), mode="replicate"), w, b)

        out["conv3d" + suffix] = best_ms(conv, repeats, sync)
    if "matmul" in job:
        m = job["matmul"]
        a = torch.rand(m["m"], m["k"]).to(device)
        bm = torch.rand(m["k"], m["n"]).to(device)
        out["matmul" + suffix] = best_ms(lambda: a @ bm, repeats, sync)


def main():
    job = json.load(sys.stdin)
    repeats = int(job.get("repeats", 3))
    # Debian's build starts with one thread here; use every core, as a PyTorch user would.
    torch.set_num_threads(int(job.get("threads") or os.cpu_count() or 1))
    out = {"threads": torch.get_num_threads(), "version": torch.__version__}
    with torch.no_grad():
        time_ops(job, "cpu", repeats, lambda: None, "_ms", out)
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            out["cuda_device"] = torch.cuda.get_device_name(0)
            time_ops(job, "cuda", max(repeats, 10), torch.cuda.synchronize, "_cuda_ms", out)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
