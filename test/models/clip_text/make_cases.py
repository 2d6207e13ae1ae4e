"""Reference cases for Kiln's CLIP text encoder (models/clip_text), computed by PyTorch's own
modules in float64: nn.Embedding, nn.TransformerEncoderLayer (pre-norm, quick_gelu, causal mask
plus key padding mask), nn.functional.layer_norm, and the pooled-state rule of transformers 4.39's
CLIPTextTransformer (argmax of the ids when eos_token_id is the legacy 2, else the first
eos_token_id). Weights are transformers' CLIPTextModel keys, drawn with a seeded generator and
stored in each file with the inputs and outputs, in the shared golden format (../../../../shared/golden/README.md),
so `kiln golden test/models/clip_text/fixtures` runs them.

    /usr/bin/python3 test/models/clip_text/make_cases.py test/models/clip_text/fixtures

Needs PyTorch (Debian's python3-torch 1.13)."""
import json, math, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
from golden_writer import write_case  # the golden format

def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)

def draw_weights(cfg, g):
    D, I, V, P, N = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"], cfg["num_hidden_layers"]
    def mat(*shape):
        return (torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(shape[-1])).float().double()
    def vec(n, centre):
        return (centre + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)).float().double()
    w = {"text_model.embeddings.token_embedding.weight": mat(V, D), "text_model.embeddings.position_embedding.weight": mat(P, D)}
    for i in range(N):
        p = f"text_model.encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + f"self_attn.{proj}.weight"] = mat(D, D)
            w[p + f"self_attn.{proj}.bias"] = vec(D, 0.0)
        for ln in ("layer_norm1", "layer_norm2"):
            w[p + f"{ln}.weight"] = vec(D, 1.0)
            w[p + f"{ln}.bias"] = vec(D, 0.0)
        w[p + "mlp.fc1.weight"] = mat(I, D); w[p + "mlp.fc1.bias"] = vec(I, 0.0)
        w[p + "mlp.fc2.weight"] = mat(D, I); w[p + "mlp.fc2.bias"] = vec(D, 0.0)
    w["text_model.final_layer_norm.weight"] = vec(D, 1.0)
    w["text_model.final_layer_norm.bias"] = vec(D, 0.0)
    return w

def encoder_layer(cfg, w, i, prefix="text_model.encoder.layers."):
    D = cfg["hidden_size"]
    layer = nn.TransformerEncoderLayer(D, cfg["num_attention_heads"], dim_feedforward=cfg["intermediate_size"], dropout=0.0,
                                       activation=quick_gelu, layer_norm_eps=cfg["layer_norm_eps"], batch_first=True, norm_first=True).double()
    p = f"{prefix}{i}."
    sd = {
        "self_attn.in_proj_weight": torch.cat([w[p + f"self_attn.{x}_proj.weight"] for x in "qkv"]),
        "self_attn.in_proj_bias": torch.cat([w[p + f"self_attn.{x}_proj.bias"] for x in "qkv"]),
        "self_attn.out_proj.weight": w[p + "self_attn.out_proj.weight"], "self_attn.out_proj.bias": w[p + "self_attn.out_proj.bias"],
        "linear1.weight": w[p + "mlp.fc1.weight"], "linear1.bias": w[p + "mlp.fc1.bias"],
        "linear2.weight": w[p + "mlp.fc2.weight"], "linear2.bias": w[p + "mlp.fc2.bias"],
        "norm1.weight": w[p + "layer_norm1.weight"], "norm1.bias": w[p + "layer_norm1.bias"],
        "norm2.weight": w[p + "layer_norm2.weight"], "norm2.bias": w[p + "layer_norm2.bias"],
    }
    layer.load_state_dict(sd)
    return layer

def forward(cfg, w, ids, mask):
    L = ids.shape[1]
    x = F.embedding(ids, w["text_model.embeddings.token_embedding.weight"]) + w["text_model.embeddings.position_embedding.weight"][:L]
    causal = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
    for i in range(cfg["num_hidden_layers"]):
        x = encoder_layer(cfg, w, i)(x, src_mask=causal, src_key_padding_mask=(mask == 0))
    h = F.layer_norm(x, (cfg["hidden_size"],), w["text_model.final_layer_norm.weight"], w["text_model.final_layer_norm.bias"], cfg["layer_norm_eps"])
    pos = ids.argmax(dim=-1) if cfg["eos_token_id"] == 2 else (ids == cfg["eos_token_id"]).int().argmax(dim=-1)
    return h, h[torch.arange(h.shape[0]), pos]

def case(out_dir, name, seed, cfg, ids, mask, about):
    g = torch.Generator().manual_seed(seed)
    w = draw_weights(cfg, g)
    ids, mask = torch.tensor(ids, dtype=torch.int64), torch.tensor(mask, dtype=torch.int64)
    h, pooled = forward(cfg, w, ids, mask)
    outputs = {"last_hidden_state": h.detach(), "pooler_output": pooled.detach()}
    tensors = {**{k: v.float() for k, v in w.items()}, "input.input_ids": ids, "input.attention_mask": mask}
    tolerance = {}
    for k, v in outputs.items():
        tensors[f"output.{k}"] = v.float()
        if v.numel() <= 4096: tensors[f"output_f64.{k}"] = v
        tolerance[k] = {"atol": max(5e-5, 1e-5 * v.abs().max().item()), "rel_l2": 5e-6}
    # 8-byte tensors first, as the golden format keeps them aligned.
    tensors = dict(sorted(tensors.items(), key=lambda kv: -kv[1].element_size()))
    calls = [{"method": "forward", "args": ["input.input_ids"], "kwargs": {"attention_mask": "input.attention_mask"},
              "returns": "BaseModelOutputWithPooling(last_hidden_state=output.last_hidden_state, pooler_output=output.pooler_output)"}]
    meta = {"case": name, "module": "transformers.models.clip.modeling_clip.CLIPTextModel", "class_name": "CLIPTextModel",
            "config": json.dumps({"constructor": dict(cfg, hidden_act="quick_gelu"), "calls": calls}),
            "tolerance": json.dumps(tolerance), "seed": str(seed), "compute_dtype": "float64", "versions": f"torch {torch.__version__}",
            "notes": about + ". Reference: PyTorch's own modules (see make_cases.py), not transformers' code."}
    write_case(f"{out_dir}/{name}.safetensors", tensors, meta)

if __name__ == "__main__":
    out = sys.argv[1]
    torch.set_grad_enabled(True)  # keeps nn.TransformerEncoderLayer on its reference path, not the fused fast path
    base = dict(vocab_size=50, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=12, layer_norm_eps=1e-5, eos_token_id=2)
    # Tokenizer-shaped rows: start 48, end-of-text 49 (the largest id), padded with 49, mask 0 after it.
    case(out, "clip_text_legacy_eos", 11, base,
         [[48, 5, 17, 3, 49, 49, 49, 49, 49, 49], [48, 30, 2, 7, 12, 41, 9, 49, 49, 49]],
         [[1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]],
         "eos_token_id 2: pooled at the first largest id; padded rows; 2 layers, 4 heads")
    cfg = dict(base, eos_token_id=7, num_hidden_layers=3, num_attention_heads=2, intermediate_size=40, layer_norm_eps=1e-6)
    case(out, "clip_text_eos_id", 12, cfg,
         [[1, 9, 7, 44, 3, 7, 0, 0, 0, 0, 0, 0], [1, 20, 31, 8, 45, 46, 47, 3, 2, 11, 6, 5], [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 7]],
         [[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1] * 12, [1] * 12],
         "eos_token_id 7: pooled at the first 7 (row 0: larger ids after it; row 1: no 7, so position 0; row 2: the last position); all 12 positions; 3 layers, 2 heads")
