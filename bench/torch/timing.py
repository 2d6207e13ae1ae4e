"""Best-of-N wall-clock timing shared by the PyTorch peer scripts in this folder."""
import time


def best_ms(fn, repeats, sync=lambda: None):
    """The best of `repeats` timed calls of `fn` after one warm-up, `sync` after each (a CUDA synchronize)."""
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, (time.perf_counter() - t0) * 1000.0)
    return best
