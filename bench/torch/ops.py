"""PyTorch (CPU) timings of the benchmark's single ops, for bench/figures/contractions.ts.

Reads a JSON job on stdin: {"conv3d": {"cin", "cout", "t", "h", "w"}, "matmul": {"m", "k", "n"},
"repeats": N, "threads": T}. Writes {"conv3d_ms", "matmul_ms", "threads", "version"}: the best of N timed
runs after one warm-up, with the causal convolution written as PyTorch users write it
(replicate pad in front in time and around in space, then conv3d with bias).
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F


def best_ms(fn, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1000.0)
    return best


def main():
    job = json.load(sys.stdin)
    repeats = int(job.get("repeats", 3))
    # Debian's build starts with one thread here; use every core, as a PyTorch user would.
    torch.set_num_threads(int(job.get("threads") or os.cpu_count() or 1))
    out = {"threads": torch.get_num_threads(), "version": torch.__version__}
    torch.manual_seed(0)
    with torch.no_grad():
        if "conv3d" in job:
            c = job["conv3d"]
            x = torch.rand(1, c["cin"], c["t"], c["h"], c["w"]) * 2 - 1
            w = torch.randn(c["cout"], c["cin"], 3, 3, 3) / (c["cin"] * 27) ** 0.5
            b = torch.randn(c["cout"]) * 0.1

            def conv():
                return F.conv3d(F.pad(x, (1, 1, 1, 1, 2, 0), mode="replicate"), w, b)

            out["conv3d_ms"] = best_ms(conv, repeats)
        if "matmul" in job:
            m = job["matmul"]
            a = torch.rand(m["m"], m["k"])
            bm = torch.rand(m["k"], m["n"])
            out["matmul_ms"] = best_ms(lambda: a @ bm, repeats)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
