"""Reference cases for Kiln's LLaVA prompt encoder (models/llava/llava.kiln), in float64, the way
transformers 4.39's LlavaForConditionalGeneration computes hidden_states for HunyuanVideo-I2V:
CLIP's vision tower (PyTorch's own nn.TransformerEncoderLayer, as in the CLIP text cases) to its
hidden_states[vision_feature_layer], the class token dropped, the projector (exact GELU), and
the "legacy" merge written as transformers indexes it (each <image> token widened to the
patches, everything else shifted, padding embeddings zeroed, positions from the running count
of the merged mask), then the Llama decoder of make_llama_cases.py. Golden file format.

    /usr/bin/python3 test/models/llava/make_llava_cases.py test/models/llava/fixtures

Needs PyTorch (Debian's python3-torch 1.13)."""
import json, math, os, sys
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "clip_text"), os.path.join(HERE, "..", "..", "reference"), HERE]
from golden_writer import write_case  # the golden format
from make_cases import encoder_layer
import make_llama_cases as llama

def draw_vision(cfg, g):
    D, I, N, P, C = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["patch_size"], 3
    n_pos = (cfg["image_size"] // P) ** 2 + 1
    mat = lambda *s: (torch.randn(s, generator=g, dtype=torch.float64) / math.sqrt(math.prod(s[1:]))).float().double()
    vec = lambda n, c: (c + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)).float().double()
    pre = "vision_tower.vision_model."
    w = {pre + "embeddings.class_embedding": vec(D, 0.0) * 10, pre + "embeddings.patch_embedding.weight": mat(D, C, P, P),
         pre + "embeddings.position_embedding.weight": mat(n_pos, D), pre + "pre_layrnorm.weight": vec(D, 1.0), pre + "pre_layrnorm.bias": vec(D, 0.0)}
    for i in range(N):
        p = f"{pre}encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + f"self_attn.{proj}.weight"] = mat(D, D); w[p + f"self_attn.{proj}.bias"] = vec(D, 0.0)
        for ln in ("layer_norm1", "layer_norm2"):
            w[p + f"{ln}.weight"] = vec(D, 1.0); w[p + f"{ln}.bias"] = vec(D, 0.0)
        w[p + "mlp.fc1.weight"] = mat(I, D); w[p + "mlp.fc1.bias"] = vec(I, 0.0)
        w[p + "mlp.fc2.weight"] = mat(D, I); w[p + "mlp.fc2.bias"] = vec(D, 0.0)
    w[pre + "post_layernorm.weight"] = vec(D, 1.0); w[pre + "post_layernorm.bias"] = vec(D, 0.0)
    return w

def vision_hidden_states(cfg, w, pixels):
    pre = "vision_tower.vision_model."
    P = cfg["patch_size"]
    patches = F.conv2d(pixels, w[pre + "embeddings.patch_embedding.weight"], stride=P).flatten(2).transpose(1, 2)
    cls = w[pre + "embeddings.class_embedding"].expand(pixels.shape[0], 1, -1)
    x = torch.cat([cls, patches], dim=1) + w[pre + "embeddings.position_embedding.weight"]
    x = F.layer_norm(x, (cfg["hidden_size"],), w[pre + "pre_layrnorm.weight"], w[pre + "pre_layrnorm.bias"], cfg["layer_norm_eps"])
    states = [x]
    for i in range(cfg["num_hidden_layers"]):
        x = encoder_layer(cfg, w, i, prefix=f"{pre}encoder.layers.")(x)
        states.append(x)
    return states

def merge(text_embeds, features, ids, mask, image_token, pad_token):
    """transformers 4.39 LlavaForConditionalGeneration._merge_input_ids_with_image_features, for right padding."""
    B, L = ids.shape
    n_img = features.shape[1]
    special = ids == image_token
    new_positions = torch.cumsum(special * (n_img - 1) + 1, -1) - 1
    total = int(new_positions[:, -1].max()) + 1
    out = torch.zeros(B, total, text_embeds.shape[-1], dtype=text_embeds.dtype)
    out_mask = torch.zeros(B, total, dtype=mask.dtype)
    b, t = torch.where(~special)
    out[b, new_positions[b, t]] = text_embeds[b, t]
    out_mask[b, new_positions[b, t]] = mask[b, t]
    image_slots = torch.all(out == 0, dim=-1)
    image_slots &= (image_slots.cumsum(-1) - 1) >= 0
    for r in range(B):
        cols = torch.arange(total)[image_slots[r]]
        cols = cols[: n_img]
        out[r, cols] = features[r]
        out_mask[r, cols] = 1
    pb, pt = torch.where(ids == pad_token)
    out[pb, new_positions[pb, pt]] = 0
    positions = (out_mask.cumsum(-1) - 1).masked_fill(out_mask == 0, 1)
    return out, out_mask, positions

def case(out_dir, name, seed, vcfg, tcfg, extra, ids, mask, afters, about):
    g = torch.Generator().manual_seed(seed)
    w = {**draw_vision(vcfg, g)}
    proj_in, proj_out = vcfg["hidden_size"], tcfg["hidden_size"]
    mat = lambda *s: (torch.randn(s, generator=g, dtype=torch.float64) / math.sqrt(s[-1])).float().double()
    w["multi_modal_projector.linear_1.weight"] = mat(proj_out, proj_in)
    w["multi_modal_projector.linear_1.bias"] = (0.1 * torch.randn(proj_out, generator=g, dtype=torch.float64)).float().double()
    w["multi_modal_projector.linear_2.weight"] = mat(proj_out, proj_out)
    w["multi_modal_projector.linear_2.bias"] = (0.1 * torch.randn(proj_out, generator=g, dtype=torch.float64)).float().double()
    w.update({f"language_model.{k}": v for k, v in llama.draw_weights(tcfg, g).items()})
    ids, mask = torch.tensor(ids, dtype=torch.int64), torch.tensor(mask, dtype=torch.int64)
    pixels = (torch.rand((ids.shape[0], 3, vcfg["image_size"], vcfg["image_size"]), generator=g, dtype=torch.float64) * 4 - 2).float().double()
    layer = extra["vision_feature_layer"]
    vstates = vision_hidden_states(vcfg, w, pixels)
    features = vstates[layer][:, 1:]
    features = F.linear(F.gelu(F.linear(features, w["multi_modal_projector.linear_1.weight"], w["multi_modal_projector.linear_1.bias"])),
                        w["multi_modal_projector.linear_2.weight"], w["multi_modal_projector.linear_2.bias"])
    text = w["language_model.model.embed_tokens.weight"][ids]
    merged, merged_mask, positions = merge(text, features, ids, mask, extra["image_token_index"], extra["pad_token_id"])
    lw = {k[len("language_model."):]: v for k, v in w.items() if k.startswith("language_model.")}
    lw["model.embed_tokens.weight"] = lw["model.embed_tokens.weight"]
    # The decoder from its input embeddings: make_llama_cases's layers over the merged sequence.
    states = llama.hidden_states_from_embeddings(tcfg, lw, merged, merged_mask, positions)
    tensors = {**{k: v.float() for k, v in w.items()}, "input.input_ids": ids, "input.attention_mask": mask, "input.pixel_values": pixels.float()}
    outputs = {"image_features": features, "merged_attention_mask": merged_mask}
    calls = [{"method": "image_features", "kwargs": {"pixel_values": "input.pixel_values"}, "returns": "output.image_features"}]
    for a in afters:
        outputs[f"hidden_state_{a}"] = states[a]
        calls.append({"method": "hidden_state", "kwargs": {"input_ids": "input.input_ids", "attention_mask": "input.attention_mask",
                                                            "pixel_values": "input.pixel_values", "after": a},
                      "returns": f"output.hidden_state_{a}", "aux": "output.merged_attention_mask"})
    tolerance = {}
    for k, v in outputs.items():
        tensors[f"output.{k}"] = v.float() if v.dtype == torch.float64 else v
        if v.dtype == torch.float64 and v.numel() <= 4096: tensors[f"output_f64.{k}"] = v
        tolerance[k] = {"atol": max(5e-5, 1e-5 * v.double().abs().max().item()), "rel_l2": 5e-6}
    tensors = dict(sorted(tensors.items(), key=lambda kv: -kv[1].element_size()))
    ctor = {"vision_config": dict(vcfg, hidden_act="quick_gelu"), "text_config": dict(tcfg, hidden_act="silu"), "projector_hidden_act": "gelu",
            "vision_feature_select_strategy": "default", **extra}
    meta = {"case": name, "module": "transformers.models.llava.modeling_llava.LlavaForConditionalGeneration", "class_name": "LlavaForConditionalGeneration",
            "config": json.dumps({"constructor": ctor, "calls": calls}), "tolerance": json.dumps(tolerance), "seed": str(seed),
            "compute_dtype": "float64", "versions": f"torch {torch.__version__}",
            "notes": about + ". hidden_state_k is the language model's hidden_states[k] over the merged sequence. Reference: make_llava_cases.py, not transformers' code."}
    write_case(f"{out_dir}/{name}.safetensors", tensors, meta)

if __name__ == "__main__":
    out = sys.argv[1]
    vcfg = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=3, num_attention_heads=2, image_size=28, patch_size=7, layer_norm_eps=1e-5)
    tcfg = dict(vocab_size=40, hidden_size=32, intermediate_size=56, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=100.0)
    extra = dict(image_token_index=38, pad_token_id=39, vision_feature_layer=-2)
    case(out, "llava_image_at_2", 31, vcfg, tcfg, extra,
         [[1, 5, 38, 17, 3, 33, 8, 39, 39], [1, 30, 38, 7, 12, 25, 9, 14, 11]],
         [[1, 1, 1, 1, 1, 1, 1, 0, 0], [1] * 9], [1, 3],
         "16 patches of a 28x28 image replace the <image> token at position 2 (24 merged positions); row 0 right-padded with the pad token; vision hidden_states[-2]")
