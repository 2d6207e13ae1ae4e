"""Reference cases for Kiln's Llama decoder (models/llava/llama.kiln), computed in float64 by an
implementation written here in another form than Kiln's: the rotary positions as complex
rotations of (first half, second half) channel pairs, grouped-query attention by
repeat_interleave, an explicit masked softmax. It follows transformers 4.39's LlamaModel with
output_hidden_states=True (hidden_states[k]: the embeddings, then each layer's output, the last
one final-normed). Weights use transformers' LlamaForCausalLM keys, drawn with a seeded
generator and stored in the golden file format (../../../../shared/golden/README.md), so
`kiln golden test/models/llava/fixtures` runs them.

    /usr/bin/python3 test/models/llava/make_llama_cases.py test/models/llava/fixtures

Needs PyTorch (Debian's python3-torch 1.13)."""
import json, math, os, sys
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
from golden_writer import write_case  # the golden format

def draw_weights(cfg, g):
    D, I, V, N = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    hd = D // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd
    def mat(*shape):
        return (torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(shape[-1])).float().double()
    def scale(n):
        return (1 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)).float().double()
    w = {"model.embed_tokens.weight": mat(V, D)}
    for i in range(N):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = mat(D, D)
        w[p + "self_attn.k_proj.weight"] = mat(kv, D)
        w[p + "self_attn.v_proj.weight"] = mat(kv, D)
        w[p + "self_attn.o_proj.weight"] = mat(D, D)
        w[p + "mlp.gate_proj.weight"] = mat(I, D)
        w[p + "mlp.up_proj.weight"] = mat(I, D)
        w[p + "mlp.down_proj.weight"] = mat(D, I)
        w[p + "input_layernorm.weight"] = scale(D)
        w[p + "post_attention_layernorm.weight"] = scale(D)
    w["model.norm.weight"] = scale(D)
    w["lm_head.weight"] = mat(V, D)  # in the checkpoint; encoding prompts never reads it
    return w

def rms(x, weight, eps):
    return weight * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))

def rotate(x, positions, theta):
    """x [B, H, L, E]: channel i and i + E/2 as one complex number, turned by position * theta^(-2i/E)."""
    E = x.shape[-1]
    freq = theta ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)
    angle = positions[:, None, :, None].double() * freq  # [B, 1, L, E/2]
    z = torch.complex(x[..., : E // 2], x[..., E // 2 :]) * torch.exp(1j * angle)
    return torch.cat([z.real, z.imag], dim=-1)

def hidden_states(cfg, w, ids, mask, positions):
    return hidden_states_from_embeddings(cfg, w, w["model.embed_tokens.weight"][ids], mask, positions)

def hidden_states_from_embeddings(cfg, w, x, mask, positions):
    B, L, D = x.shape
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    E = D // H; eps = cfg["rms_norm_eps"]
    allowed = torch.tril(torch.ones(L, L, dtype=torch.bool))[None, None] & (mask[:, None, None, :] != 0)
    states = [x]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"], eps)
        heads = lambda t, n: t.view(B, L, n, E).transpose(1, 2)
        q = rotate(heads(h @ w[p + "self_attn.q_proj.weight"].T, H), positions, cfg["rope_theta"])
        k = rotate(heads(h @ w[p + "self_attn.k_proj.weight"].T, KV), positions, cfg["rope_theta"]).repeat_interleave(H // KV, dim=1)
        v = heads(h @ w[p + "self_attn.v_proj.weight"].T, KV).repeat_interleave(H // KV, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(E)
        scores = scores.masked_fill(~allowed, float("-inf"))
        o = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, L, D)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        x = x + ((gate * torch.sigmoid(gate)) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        states.append(x)
    states[-1] = rms(x, w["model.norm.weight"], eps)
    return states

def case(out_dir, name, seed, cfg, ids, mask, afters, about):
    g = torch.Generator().manual_seed(seed)
    w = draw_weights(cfg, g)
    ids, mask = torch.tensor(ids, dtype=torch.int64), torch.tensor(mask, dtype=torch.int64)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)  # LLaVA's merge (transformers 4.39)
    states = hidden_states(cfg, w, ids, mask, positions)
    tensors = {**{k: v.float() for k, v in w.items()}, "input.input_ids": ids, "input.attention_mask": mask, "input.position_ids": positions}
    tolerance, calls = {}, []
    for a in afters:
        out = f"hidden_state_{a}"
        v = states[a]
        tensors[f"output.{out}"] = v.float()
        if v.numel() <= 4096: tensors[f"output_f64.{out}"] = v
        tolerance[out] = {"atol": max(5e-5, 1e-5 * v.abs().max().item()), "rel_l2": 5e-6}
        calls.append({"method": "hidden_state", "kwargs": {"input_ids": "input.input_ids", "attention_mask": "input.attention_mask",
                                                            "position_ids": "input.position_ids", "after": a}, "returns": f"output.{out}"})
    tensors = dict(sorted(tensors.items(), key=lambda kv: -kv[1].element_size()))
    meta = {"case": name, "module": "transformers.models.llama.modeling_llama.LlamaForCausalLM", "class_name": "LlamaForCausalLM",
            "config": json.dumps({"constructor": dict(cfg, hidden_act="silu"), "calls": calls}),
            "tolerance": json.dumps(tolerance), "seed": str(seed), "compute_dtype": "float64", "versions": f"torch {torch.__version__}",
            "notes": about + ". hidden_state_k is transformers' hidden_states[k] (output_hidden_states=True). Reference: make_llama_cases.py, not transformers' code."}
    write_case(f"{out_dir}/{name}.safetensors", tensors, meta)

if __name__ == "__main__":
    out = sys.argv[1]
    base = dict(vocab_size=40, hidden_size=32, intermediate_size=56, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=100.0)
    case(out, "llama_gqa_padded", 21, base,
         [[1, 5, 17, 3, 33, 8, 2, 39, 39, 39], [1, 30, 2, 7, 12, 25, 9, 14, 11, 6]],
         [[1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [1] * 10], [1, 2, 3],
         "4 query heads sharing 2 key/value heads, theta 100 so that every channel pair turns; row 0 right-padded")
    cfg = dict(base, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1, hidden_size=24, intermediate_size=40,
               rms_norm_eps=1e-6, rope_theta=500000.0)
    case(out, "llama3_theta_one_kv_head", 22, cfg,
         [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]], [[1] * 16], [0, 2, 4],
         "Llama-3's theta 500000, one key/value head for two query heads, hidden_states[2] as HunyuanVideo reads [-3] of 32 layers")
