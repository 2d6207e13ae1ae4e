"""Test oracle: CLIPImageProcessor's steps for LLaVA as transformers runs them, with Pillow and
numpy: the short side resized to `size` (PIL bicubic; the long side int(size * long / short)),
the centre cropped ((h - size) // 2, (w - size) // 2), rescaled by 1/255 in float64 then cast to
float32, normalised with float32 mean and std. Reads {"width", "height", "size", "pixels": base64
RGB} jobs as a JSON list on stdin; writes base64 float32 [3, size, size] results."""
import base64, json, sys
import numpy as np
from PIL import Image

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

out = []
for job in json.load(sys.stdin):
    w, h, size = job["width"], job["height"], job["size"]
    image = Image.frombytes("RGB", (w, h), base64.b64decode(job["pixels"]))
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    nh, nw = (new_long, new_short) if w <= h else (new_short, new_long)
    a = np.array(image.resize((nw, nh), Image.BICUBIC))
    top, left = (nh - size) // 2, (nw - size) // 2
    a = a[top:top + size, left:left + size]
    a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    out.append(base64.b64encode(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32).tobytes()).decode("ascii"))
json.dump(out, sys.stdout)
