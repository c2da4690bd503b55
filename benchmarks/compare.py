"""Checking that engines agree before any of them is timed."""
import numpy as np


def max_difference(reference, other):
    """Largest |a - b| / (1 + |a|) over matching lists of arrays (or floats)."""
    assert len(reference) == len(other), f"{len(reference)} gradients vs {len(other)}"
    worst = 0.0
    for a, b in zip(reference, other):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert a.shape == b.shape, f"gradient shapes differ: {a.shape} vs {b.shape}"
        worst = max(worst, float(np.max(np.abs(a - b) / (1 + np.abs(a)), initial=0.0)))
    return worst


def assert_agree(grads, tol):
    """`grads`: engine -> list of gradients (same order for all). Every engine must match
    the first within `tol`; returns the largest difference seen."""
    (ref_name, ref), *others = grads.items()
    worst = 0.0
    for name, g in others:
        d = max_difference(ref, g)
        assert d <= tol, f"{name} differs from {ref_name} by {d:.3g} (tolerance {tol:g})"
        worst = max(worst, d)
    return worst
