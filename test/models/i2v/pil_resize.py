"""Test oracle: Pillow's own resize of 8-bit RGB images.

Reads a JSON list of jobs on stdin, each {"width", "height", "out_width", "out_height",
"filter": "bilinear" or "bicubic" (default bilinear), "pixels": base64 RGB bytes}, and writes a
JSON list of base64 RGB results: what Image.resize((out_width, out_height), filter) gives, as
upstream's torchvision Resize (bilinear) and transformers' CLIPImageProcessor (bicubic) get it
from PIL.
"""
import base64
import json
import sys

from PIL import Image

jobs = json.load(sys.stdin)
out = []
for job in jobs:
    image = Image.frombytes("RGB", (job["width"], job["height"]), base64.b64decode(job["pixels"]))
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[job.get("filter", "bilinear")]
    resized = image.resize((job["out_width"], job["out_height"]), resample)
    out.append(base64.b64encode(resized.tobytes()).decode("ascii"))
json.dump(out, sys.stdout)
