"""Extra reference cases for Kiln's transformer: upstream's HYVideoDiffusionTransformer (float64,
its float32 islands kept) on configs the public golden does not cover, in the golden file format.

    UPSTREAM=/path/to/HunyuanVideo-I2V /usr/bin/python3 test/golden_upstream/make_dit_cases.py test/golden_upstream

Needs PyTorch (Debian's python3-torch 1.13). Upstream's modules run unmodified from the checkout;
stubs/ stands in for the packages they import but the forward never uses (einops' one pattern,
diffusers' base classes, deepspeed, tensorboard). Attention shims as the golden generator's:
flash-attn varlen -> upstream's vanilla attention with the block-diagonal mask of cu_seqlens; the
refiner's SDPA (absent from torch 1.13) -> vanilla with its boolean mask."""
import json, math, os, sys, types
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(here, "stubs"), os.path.join(here, "..", "reference"), os.environ["UPSTREAM"]]
import torch
tb = types.ModuleType("torch.utils.tensorboard"); tb.SummaryWriter = object; sys.modules["torch.utils.tensorboard"] = tb
import hyvideo.modules.attenion as A
import hyvideo.modules.models as M
import hyvideo.modules.token_refiner as R
from hyvideo.modules.posemb_layers import get_nd_rotary_pos_embed
from golden_writer import write_case  # the golden format

def cu_seqlens(text_mask, img_len):
    b = text_mask.shape[0]; n = text_mask.sum(dim=1); L = text_mask.shape[1] + img_len
    cu = torch.zeros([2 * b + 1], dtype=torch.int32)
    for i in range(b):
        cu[2 * i + 1] = i * L + n[i] + img_len; cu[2 * i + 2] = (i + 1) * L
    return cu

def joint_attention(q, k, v, cu_seqlens_q=None, cu_seqlens_kv=None, max_seqlen_q=None, max_seqlen_kv=None, batch_size=1, **_):
    b, s = q.shape[0], q.shape[1]
    seg = torch.zeros(b * s, dtype=torch.int64)
    for j in range(1, len(cu_seqlens_q)):
        seg[int(cu_seqlens_q[j - 1]):int(cu_seqlens_q[j])] = j
    seg = seg.view(b, s)
    mask = (seg[:, :, None] == seg[:, None, :])[:, None]
    return A.attention(q, k, v, mode="vanilla", attn_mask=mask)

def refiner_attention(q, k, v, mode="torch", attn_mask=None, **kw):
    return A.attention(q, k, v, mode="vanilla", attn_mask=attn_mask)

M.get_cu_seqlens = cu_seqlens
M.attention = joint_attention
R.attention = refiner_attention

def init_weights(model, g):
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.ndim >= 2:
                p.copy_((torch.randn(p.shape, generator=g, dtype=torch.float64) / math.sqrt(p[0].numel())).float().double())
            elif name.endswith(".weight"):
                p.copy_((1 + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64)).float().double())
            else:
                p.copy_((0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64)).float().double())

def case(name, seed, ctor, grid, masks, t, guidance, out_dir):
    g = torch.Generator().manual_seed(seed)
    args = types.SimpleNamespace(**ctor["args"])
    kw = {k: v for k, v in ctor.items() if k != "args"}
    model = M.HYVideoDiffusionTransformer(args, **kw).double().eval()
    init_weights(model, g)
    B = len(masks); T, H, W = grid
    x = torch.randn(B, kw["in_channels"], T, H, W, generator=g, dtype=torch.float64).float()
    ts = torch.randn(B, len(masks[0]), ctor["args"]["text_states_dim"], generator=g, dtype=torch.float64).float()
    ts2 = torch.randn(B, ctor["args"]["text_states_dim_2"], generator=g, dtype=torch.float64).float()
    mask = torch.tensor(masks, dtype=torch.int64)
    cos, sin = get_nd_rotary_pos_embed(kw["rope_dim_list"], [T, H // 2, W // 2], theta=256.0, use_real=True, theta_rescale_factor=1)
    tt = torch.tensor(t, dtype=torch.float32)
    gg = None if guidance is None else torch.tensor(guidance, dtype=torch.float32)
    with torch.no_grad():
        y = model(x.double(), tt, text_states=ts.double(), text_mask=mask, text_states_2=ts2.double(), freqs_cos=cos, freqs_sin=sin, guidance=gg, return_dict=True)["x"]
    tensors = {k: v.float() for k, v in model.state_dict().items()}
    tensors.update({"input.x": x, "input.t": tt, "input.text_states": ts, "input.text_mask": mask, "input.text_states_2": ts2, "input.freqs_cos": cos, "input.freqs_sin": sin, "output.x": y.float(), "output_f64.x": y})
    kwargs = {"text_states": "input.text_states", "text_mask": "input.text_mask", "text_states_2": "input.text_states_2", "freqs_cos": "input.freqs_cos", "freqs_sin": "input.freqs_sin", "return_dict": True}
    if gg is not None:
        tensors["input.guidance"] = gg; kwargs["guidance"] = "input.guidance"
    peak = float(y.abs().max())
    meta = {"case": name, "module": "hyvideo.modules.models.HYVideoDiffusionTransformer", "class_name": "HYVideoDiffusionTransformer",
            "config": json.dumps({"constructor": ctor, "calls": [{"method": "forward", "args": ["input.x", "input.t"], "kwargs": kwargs, "returns": "output.x = forward(...)['x']"}]}),
            "tolerance": json.dumps({"x": {"atol": max(5e-5, 1e-5 * peak), "rel_l2": 5e-6}})}
    write_case(f"{out_dir}/{name}.safetensors", tensors, meta)
    print(name, list(y.shape), "max|y|", peak)

out = sys.argv[1]
base_args = {"gradient_checkpoint": False, "gradient_checkpoint_layers": -1}
case("dit_latent_concat_b2", 11, {"args": {**base_args, "i2v_condition_type": "latent_concat", "text_states_dim": 20, "text_states_dim_2": 12},
     "patch_size": [1, 2, 2], "in_channels": 9, "out_channels": 4, "hidden_size": 48, "heads_num": 2, "mlp_width_ratio": 4.0,
     "mm_double_blocks_depth": 1, "mm_single_blocks_depth": 2, "rope_dim_list": [8, 8, 8], "guidance_embed": False},
     (2, 6, 4), [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], [500.0, 12.25], None, out)
case("dit_token_replace_wide", 12, {"args": {**base_args, "i2v_condition_type": "token_replace", "text_states_dim": 16, "text_states_dim_2": 8},
     "patch_size": [1, 2, 2], "in_channels": 4, "out_channels": 4, "hidden_size": 64, "heads_num": 4, "mlp_width_ratio": 2.5,
     "mm_double_blocks_depth": 2, "mm_single_blocks_depth": 2, "rope_dim_list": [4, 6, 6], "guidance_embed": True, "qkv_bias": False},
     (3, 2, 8), [[1, 1, 1, 1, 0]], [999.0], [7488.0], out)
case("dit_no_qk_norm_t2v", 13, {"args": {**base_args, "i2v_condition_type": None, "text_states_dim": 10, "text_states_dim_2": 6},
     "patch_size": [1, 2, 2], "in_channels": 4, "out_channels": 6, "hidden_size": 48, "heads_num": 2, "mlp_width_ratio": 4.0,
     "mm_double_blocks_depth": 2, "mm_single_blocks_depth": 1, "rope_dim_list": [8, 8, 8], "guidance_embed": True, "qk_norm": False},
     (1, 4, 4), [[1, 1, 0, 0], [1, 1, 1, 1]], [0.0, 1000.0], [3504.0, 3504.0], out)
# A text mask that is not a prefix: upstream's varlen attention counts the ones and treats that
# many leading text tokens as valid, while its refiner follows the mask itself.
case("dit_mask_not_prefix", 14, {"args": {**base_args, "i2v_condition_type": "token_replace", "text_states_dim": 12, "text_states_dim_2": 8},
     "patch_size": [1, 2, 2], "in_channels": 4, "out_channels": 4, "hidden_size": 32, "heads_num": 2, "mlp_width_ratio": 4.0,
     "mm_double_blocks_depth": 1, "mm_single_blocks_depth": 1, "rope_dim_list": [4, 6, 6], "guidance_embed": True},
     (2, 4, 4), [[1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1]], [750.0, 250.0], [6016.0, 6016.0], out)
