"""Helpers the tests share (pytest's fixtures are in conftest.py): float64 tensors for
finite differences, and for the nn tests, moving weights into PyTorch's modules and
comparing.

PyTorch is the oracle, not a dependency: `torch` and `TF` here import it on first use,
so a test that compares with it is skipped where it is not installed, and every test of
the engine alone still runs (`tests/test_no_torch.py` runs the suite with torch hidden).

Our attention keeps q/k/v projections apart; PyTorch packs them into one
`in_proj_weight` (q, k, v stacked along the output axis). Its Transformer layers
call the FFN `linear1`/`linear2` and the cross-attention `multihead_attn`.
"""
import re

import numpy as np
import pytest

import tinygrad_tf as tg


class _OnFirstUse:
    """The module `name`, imported when an attribute is first read, by pytest.importorskip:
    where it is missing, the test reading it is skipped (a module that reads it at import
    time is skipped whole)."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):           # (pytest's collection asks every name for __test__ ...)
            raise AttributeError(attr)
        return getattr(pytest.importorskip(self._name), attr)


torch = _OnFirstUse("torch")
TF = _OnFirstUse("torch.nn.functional")

_RENAME = (("cross_attn.", "multihead_attn."), ("ffn.up.", "linear1."), ("ffn.down.", "linear2."))
_QKV = re.compile(r"^(.*?)([qkv])_proj\.(weight|bias)$")


def to_torch_names(arrays):
    """{our name: array} → {PyTorch name: torch.Tensor}, packing q/k/v into in_proj_*."""
    out, packed = {}, {}
    for name, a in arrays.items():
        for ours, theirs in _RENAME:
            name = name.replace(ours, theirs)
        m = _QKV.match(name)
        if m:
            packed.setdefault(f"{m[1]}in_proj_{m[3]}", {})[m[2]] = a
        else:
            out[name] = torch.tensor(np.asarray(a))
    for name, parts in packed.items():
        out[name] = torch.tensor(np.concatenate([parts["q"], parts["k"], parts["v"]]))
    return out


def load_into_torch(module, torch_module):
    """Copy our module's weights into the PyTorch module (every one of its parameters)."""
    torch_module.load_state_dict(to_torch_names(module.state_dict()), strict=True)


def assert_close(ours, theirs, what="", rtol=1e-7):
    """max |ours - theirs| <= rtol · max |theirs|: relative to the array's scale."""
    ours = np.asarray(ours.data if isinstance(ours, tg.Tensor) else ours)
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    scale = max(np.abs(theirs).max(initial=0.0), 1e-12)
    err = np.abs(ours - theirs).max(initial=0.0)
    assert err <= rtol * scale, f"{what}: max error {err:.3g} > {rtol:g} × {scale:.3g}"


def assert_grads_match(module, torch_module):
    """Every parameter's gradient (ours, packed as PyTorch packs them) against PyTorch's."""
    ours = to_torch_names({n: p.grad for n, p in module.named_parameters()})
    theirs = dict(torch_module.named_parameters())
    assert set(ours) == set(theirs)
    for name, grad in ours.items():
        assert_close(grad.numpy(), theirs[name].grad, f"grad of {name}")


def randomize(module, seed=3):
    """Give every parameter random values (LayerNorm's ones and zeros hide bugs)."""
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data = rng.standard_normal(p.shape) * 0.5 + (1.0 if p.ndim == 1 else 0.0)
    return module


def f64(values, requires_grad=True):
    """A float64 Tensor of these values (finite differences need float64)."""
    return tg.Tensor(values, dtype=np.float64, requires_grad=requires_grad)


def randn64(*shape, seed=0, name=None):
    """A float64 random Tensor of this shape that requires grad."""
    t = tg.randn(*shape, seed=seed, dtype=np.float64, requires_grad=True)
    t.name = name
    return t


def pair(*shape, seed=0):
    """The same float64 random input as a Tensor and a torch tensor, both requiring grad."""
    data = np.random.default_rng(seed).standard_normal(shape)
    return (tg.Tensor(data, dtype=np.float64, requires_grad=True),
            torch.tensor(data, requires_grad=True))


def backward_both(ours, theirs, seed=1):
    """Backpropagate the same random upstream gradient through both outputs."""
    g = np.random.default_rng(seed).standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
