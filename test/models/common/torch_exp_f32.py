"""Writes torch_exp_f32.json: float32 arguments and what PyTorch's CPU torch.exp gives for them,
the reference expF32 (models/common/torch_f32.ts) is tested against.

    /usr/bin/python3 test/models/common/torch_exp_f32.py > test/models/common/torch_exp_f32.json

(Debian's python3-torch 1.13; its vectorised exp is SLEEF's expf_u10.)
"""
import json
import math
import sys

import torch

g = torch.Generator().manual_seed(0)
# The timestep sinusoid's frequencies' arguments, then random ones over most of exp's float32 range (no overflow or subnormal results).
args = (-math.log(10000) * torch.arange(0, 128, dtype=torch.float32) / 128).tolist()
args += (torch.rand(1500, generator=g) * 160 - 80).tolist()
args += (torch.rand(500, generator=g) * 2 - 1).tolist()
x = torch.tensor(args, dtype=torch.float32)
json.dump({"torch": torch.__version__, "args": x.double().tolist(), "exp": torch.exp(x).double().tolist()}, sys.stdout)
