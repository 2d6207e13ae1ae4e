"""The golden file format's writer (../../../shared/golden/README.md) for the reference scripts
that make Kiln's extra cases (test/models/*/make_*.py, test/golden_upstream/make_dit_cases.py):
a safetensors file with the case's metadata, tensors in the order given (callers put 8-byte
ones first, so they stay aligned), the header padded to 8 bytes."""
import json
import struct

import torch


def write_case(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().contiguous()
        dt = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[a.dtype]
        data = a.numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data); off += len(data)
    header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)
