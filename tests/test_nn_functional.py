"""nn.functional: cross_entropy (ignore_index, label_smoothing) and mse_loss against
PyTorch, padding masks, layer_norm, dtypes, and clear errors for bad targets."""
import numpy as np
import pytest
from support import assert_close, pair, randn64, torch

import tinygrad_tf as tg
from tinygrad_tf.core import fused
from tinygrad_tf.nn import functional as F


@pytest.mark.parametrize("ignore_index", [None, 0])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("vecdot", [True, False])      # NumPy 2's np.vecdot, or 1.26's way
def test_cross_entropy_matches_torch(monkeypatch, ignore_index, label_smoothing, vecdot):
    if not vecdot:
        monkeypatch.setattr(fused, "_vecdot", None)
    logits, tlogits = pair(3, 4, 5)                                 # (batch, seq, classes)
    targets = np.random.default_rng(2).integers(0, 5, size=(3, 4))
    targets[0, :2] = 0
    loss = F.cross_entropy(logits, targets, ignore_index=ignore_index, label_smoothing=label_smoothing)
    tloss = torch.nn.functional.cross_entropy(
        tlogits.reshape(-1, 5), torch.tensor(targets.reshape(-1)),
        ignore_index=-100 if ignore_index is None else ignore_index, label_smoothing=label_smoothing)
    assert loss.shape == ()
    assert_close(loss, tloss, "loss")
    loss.backward()
    tloss.backward()
    assert_close(logits.grad, tlogits.grad, "logits grad")
    if ignore_index is not None:
        assert np.all(logits.grad[targets == ignore_index] == 0.0)   # ignored: no gradient at all


def test_cross_entropy_is_stable_and_keeps_float32():
    logits = tg.Tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 1]))
    assert loss.dtype == np.float32 and np.isclose(loss.item(), 1e4)
    loss.backward()
    assert logits.grad.dtype == np.float32 and np.isfinite(logits.grad).all()
    gradcheck_logits = randn64(4, 3, seed=1)
    assert tg.gradcheck(lambda z: F.cross_entropy(z, np.array([0, 2, 1, 2]), 1, 0.2),
                        [gradcheck_logits])


def test_cross_entropy_with_rows_far_apart_matches_torch():
    """The fused softmax cross-entropy takes exp of the logits unshifted; rows whose sum
    would overflow (+1000) or underflow (-1000) are redone shifted by their max: every
    row's loss and gradients as PyTorch's, probability targets' gradients too."""
    logits, tlogits = pair(5, 4)
    with torch.no_grad():
        for t in (logits.data, tlogits):
            t[1] += 1000.0
            t[3] -= 1000.0
    probs, tprobs = pair(5, 4, seed=1)
    loss = F.cross_entropy(logits, probs.softmax(-1), reduction="none")
    tloss = torch.nn.functional.cross_entropy(tlogits, tprobs.softmax(-1), reduction="none")
    assert_close(loss, tloss, "losses")
    loss.backward(np.arange(1.0, 6.0))
    tloss.backward(torch.arange(1.0, 6.0, dtype=torch.float64))
    assert_close(logits.grad, tlogits.grad, "logits grad")
    assert_close(probs.grad, tprobs.grad, "probability targets' grad")


def test_cross_entropy_with_every_target_ignored_is_zero():
    logits = tg.randn(2, 3, requires_grad=True)
    loss = F.cross_entropy(logits, np.array([-1, -1]), ignore_index=-1)
    assert loss.item() == 0.0
    loss.backward()
    assert np.all(logits.grad == 0.0)


def test_cross_entropy_names_bad_targets():
    logits = tg.randn(2, 3, 4)
    with pytest.raises(IndexError, match=r"target id 4 at position \(1, 2\) is out of range for 4 "
                                         r"classes \(ids must be in 0..3\)"):
        F.cross_entropy(logits, np.array([[0, 1, 2], [3, 0, 4]]))
    with pytest.raises(IndexError, match="target id -2"):
        F.cross_entropy(logits, np.array([[0, 1, 2], [3, -2, -1]]), ignore_index=-1)
    with pytest.raises(ValueError, match=r"targets of shape \(2,\) do not match logits of shape "
                                         r"\(2, 3, 4\) \(expected class ids of shape \(2, 3\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"float targets of shape \(2, 3\) look like class ids"):
        F.cross_entropy(logits, np.zeros((2, 3)))


def test_mse_loss_matches_torch():
    a, ta = pair(3, 4)
    b = np.random.default_rng(5).standard_normal((3, 4))
    loss, tloss = F.mse_loss(a, b), torch.nn.functional.mse_loss(ta, torch.tensor(b))
    assert_close(loss, tloss, "loss")
    loss.backward()
    tloss.backward()
    assert_close(a.grad, ta.grad, "grad")


def test_layer_norm_over_several_axes_matches_torch():
    x, tx = pair(2, 3, 4)
    w, tw = pair(3, 4, seed=1)
    b, tb = pair(3, 4, seed=2)
    y = F.layer_norm(x, (3, 4), w, b, eps=1e-3)
    ty = torch.nn.functional.layer_norm(tx, (3, 4), tw, tb, eps=1e-3)
    assert_close(y, ty, "output")
    g = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for ours, theirs, what in ((x, tx, "x"), (w, tw, "weight"), (b, tb, "bias")):
        assert_close(ours.grad, theirs.grad, f"{what} grad")
    assert tg.gradcheck(lambda x: F.layer_norm(x, 4), [randn64(3, 4, seed=4)])


def test_padding_mask_and_causal_mask():
    tokens = np.array([[3, 4, 0], [5, 0, 0]])
    mask = F.padding_mask(tg.Tensor(tokens), pad_id=0)
    assert mask.shape == (2, 1, 1, 3) and mask.dtype == np.bool_
    assert np.array_equal(mask[:, 0, 0], tokens != 0)
    assert np.array_equal(F.causal_mask(2, 3), [[True, False, False], [True, True, False]])
    with pytest.raises(ValueError, match=r"tokens should be \(batch, seq\), got shape \(3,\)"):
        F.padding_mask(np.array([1, 2, 0]), 0)


def test_activations_and_softmax_are_the_tensor_methods():
    x = tg.randn(2, 5, seed=0, dtype=np.float64)
    tx = torch.tensor(x.data)
    assert_close(F.relu(x), torch.relu(tx))
    assert_close(F.gelu(x), torch.nn.functional.gelu(tx))
    assert_close(F.silu(x), torch.nn.functional.silu(tx))
    assert_close(F.softmax(x, axis=0), torch.softmax(tx, 0))
    assert_close(F.log_softmax(x), torch.log_softmax(tx, -1))
    assert F.dropout(x, 0.5, training=False) is x


def test_a_float64_array_in_an_op_with_a_float64_tensor_stays_exact():
    # engine fix: `tensor + ndarray` used to pass the array through float32
    t = tg.Tensor([1.0], dtype=np.float64, requires_grad=True)
    a = np.array([1e-9 + 1 / 3])
    assert (t + a).data[0] == 1.0 + a[0]
    assert (t * a).dtype == np.float64
    assert (tg.Tensor([1.0]) + a).dtype == np.float64                # as torch: a tensor of its dtype
    assert (torch.tensor([1.0]) + torch.from_numpy(a)).dtype == torch.float64
    assert (tg.Tensor([1.0]) + np.array(0.5)).dtype == np.float32    # a 0-d array doesn't widen
    assert (tg.Tensor([1.0]) + 1e-9).dtype == np.float32             # nor does a number


def test_embedding_refuses_ids_out_of_range_instead_of_wrapping():
    weight = tg.randn(4, 2, seed=0, requires_grad=True)
    np.testing.assert_array_equal(F.embedding(np.array([3, 0]), weight).data, weight.data[[3, 0]])
    with pytest.raises(IndexError, match=r"embedding: id -1 at position \(1,\) is out of range for 4 rows"):
        F.embedding(np.array([0, -1]), weight)
    with pytest.raises(IndexError, match=r"embedding: id 4 at position \(0, 1\)"):
        F.embedding(np.array([[0, 4]]), weight)
    with pytest.raises(TypeError, match="ids must be integers, not float64"):
        F.embedding(np.array([0.0]), weight)
