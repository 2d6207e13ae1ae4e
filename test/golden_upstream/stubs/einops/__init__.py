# Test-harness stand-in for einops: only the one pattern upstream's transformer uses.
def rearrange(x, pattern, **sizes):
    assert pattern == "B L (K H D) -> K B L H D", pattern
    B, L, N = x.shape
    K, H = sizes["K"], sizes["H"]
    return x.view(B, L, K, H, N // (K * H)).permute(2, 0, 1, 3, 4)

def repeat(*a, **k):
    raise NotImplementedError("einops.repeat is not used by the transformer forward")
