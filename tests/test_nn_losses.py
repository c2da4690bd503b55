"""The losses against PyTorch (values and gradients, float64, every reduction), by
finite differences, and their refusals: mismatched shapes, bad probabilities,
unknown reductions. PyTorch puts classes on axis 1; ours are on the last axis."""
import numpy as np
import pytest
from support import TF, assert_close, pair, torch

import tinygrad_tf as tg
from tinygrad_tf.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


def classes_first(t):
    """(batch, seq, C) → (batch, C, seq), PyTorch's layout for cross_entropy/nll_loss."""
    return t.permute(0, 2, 1)


def check_pair(loss, tloss, inputs):
    """Values, then gradients through a random upstream gradient, for each (ours, torch)."""
    assert_close(loss, tloss, "loss")
    g = np.random.default_rng(9).standard_normal(loss.shape)
    loss.backward(g)
    tloss.backward(torch.tensor(g))
    for k, (ours, theirs) in enumerate(inputs):
        assert_close(ours.grad, theirs.grad, f"grad of input {k}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_reductions_with_class_ids_match_torch(reduction, label_smoothing):
    logits, tlogits = pair(3, 4, 5)
    targets = np.random.default_rng(1).integers(0, 5, size=(3, 4))
    targets[0, :2] = 2
    loss = F.cross_entropy(logits, targets, ignore_index=2, label_smoothing=label_smoothing,
                           reduction=reduction)
    tloss = TF.cross_entropy(classes_first(tlogits), torch.tensor(targets), ignore_index=2,
                             label_smoothing=label_smoothing, reduction=reduction)
    assert loss.shape == ((3, 4) if reduction == "none" else ())
    check_pair(loss, tloss, [(logits, tlogits)])
    if reduction == "none":
        assert np.all(loss.data[targets == 2] == 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_with_probability_targets_matches_torch(reduction, label_smoothing):
    logits, tlogits = pair(3, 4, 5)
    probs, tprobs = pair(3, 4, 5, seed=2)                      # a Tensor target gets a gradient too
    probs.data = np.abs(probs.data) / np.abs(probs.data).sum(-1, keepdims=True)
    tprobs = torch.tensor(probs.data, requires_grad=True)
    loss = F.cross_entropy(logits, probs, label_smoothing=label_smoothing, reduction=reduction)
    tloss = TF.cross_entropy(classes_first(tlogits), classes_first(tprobs),
                             label_smoothing=label_smoothing, reduction=reduction)
    check_pair(loss, tloss, [(logits, tlogits), (probs, tprobs)])
    one_hot = np.eye(5)[[1, 3]]                                 # one-hot probabilities = class ids
    z = tg.randn(2, 5, seed=3, dtype=np.float64)
    assert np.isclose(F.cross_entropy(z, one_hot).item(), F.cross_entropy(z, np.array([1, 3])).item())


def test_cross_entropy_of_one_unbatched_position_and_keeps_float32():
    z, tz = pair(5)
    check_pair(F.cross_entropy(z, np.array(3)), TF.cross_entropy(tz, torch.tensor(3)), [(z, tz)])
    z32 = tg.Tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    for targets in (np.array([1]), np.array([[0.0, 0.5, 0.5]])):    # float64 probabilities too
        loss = F.cross_entropy(z32, targets, reduction="none")
        assert loss.dtype == np.float32 and np.isfinite(loss.data).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch_and_cross_entropy(reduction):
    z, tz = pair(3, 4, 5)
    targets = np.random.default_rng(4).integers(0, 5, size=(3, 4))
    loss = F.nll_loss(z.log_softmax(-1), targets, ignore_index=0, reduction=reduction)
    tloss = TF.nll_loss(classes_first(torch.log_softmax(tz, -1)), torch.tensor(targets),
                        ignore_index=0, reduction=reduction)
    check_pair(loss, tloss, [(z, tz)])
    same = F.cross_entropy(z, targets, ignore_index=0, reduction=reduction)
    np.testing.assert_allclose(same.data, F.nll_loss(z.log_softmax(-1), targets, 0, reduction).data,
                               rtol=1e-14)


def test_nll_loss_reads_only_the_target_entry():
    # log(0) = -inf in a class nobody targets: the picked losses stay finite, no NaN gradient
    log_probs = tg.Tensor([[-np.inf, -0.5, -1.0], [-2.0, -np.inf, -0.1]], dtype=np.float64,
                          requires_grad=True)
    loss = F.nll_loss(log_probs, np.array([1, 2]))
    assert loss.item() == pytest.approx(0.3)
    loss.backward()
    np.testing.assert_array_equal(log_probs.grad, [[0, -0.5, 0], [0, 0, -0.5]])
    assert F.nll_loss(log_probs, np.array([0, 0]), ignore_index=0).item() == 0.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction):
    rng = np.random.default_rng(5)
    x = rng.uniform(0.05, 0.95, (3, 4))
    y, w = rng.random((3, 4)), rng.random(4)
    xs, txs = tg.Tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, tys = tg.Tensor(y, dtype=np.float64, requires_grad=True), torch.tensor(y, requires_grad=True)
    loss = F.binary_cross_entropy(xs, ys, weight=w, reduction=reduction)
    tloss = TF.binary_cross_entropy(txs, tys, weight=torch.tensor(w), reduction=reduction)
    check_pair(loss, tloss, [(xs, txs), (ys, tys)])


def test_binary_cross_entropy_clamps_the_log_at_minus_100_as_torch():
    x, y = np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    loss = F.binary_cross_entropy(tg.Tensor(x, dtype=np.float64, requires_grad=True), y, reduction="none")
    np.testing.assert_array_equal(loss.data, TF.binary_cross_entropy(
        torch.tensor(x), torch.tensor(y), reduction="none").numpy())
    np.testing.assert_array_equal(loss.data[:4], [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()                                      # finite, no log(0) on the graph
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]; element \(1,\) is 1.5 "
                                         r"\(pass logits to binary_cross_entropy_with_logits\)"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.5]), tg.tensor([1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_matches_torch_and_is_stable(reduction):
    rng = np.random.default_rng(6)
    z = rng.standard_normal((3, 4)) * 3
    z[0, :3] = [1e4, -1e4, 0.0]                                 # huge logits, and exactly 0
    y, w, pw = rng.random((3, 4)), rng.random((3, 4)), rng.random(4) + 0.5
    zs, tzs = tg.Tensor(z, dtype=np.float64, requires_grad=True), torch.tensor(z, requires_grad=True)
    ys, tys = tg.Tensor(y, dtype=np.float64, requires_grad=True), torch.tensor(y, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(zs, ys, weight=w, reduction=reduction, pos_weight=pw)
    tloss = TF.binary_cross_entropy_with_logits(tzs, tys, weight=torch.tensor(w), reduction=reduction,
                                                pos_weight=torch.tensor(pw))
    assert np.isfinite(loss.data).all()
    check_pair(loss, tloss, [(zs, tzs), (ys, tys)])


def test_every_loss_passes_gradcheck():
    rng = np.random.default_rng(7)
    f64 = lambda a: tg.Tensor(a, dtype=np.float64, requires_grad=True)
    ids = np.array([[0, 2, 1], [2, 2, 0]])
    probs = rng.random((2, 3, 3))
    assert tg.gradcheck(lambda z, p: F.cross_entropy(z, p, label_smoothing=0.1, reduction="sum"),
                        [f64(rng.standard_normal((2, 3, 3))), f64(probs)])
    assert tg.gradcheck(lambda z: F.nll_loss(z, ids, ignore_index=1, reduction="none"),
                        [f64(rng.standard_normal((2, 3, 3)))])
    assert tg.gradcheck(lambda x, y: F.binary_cross_entropy(x, y), [f64(rng.uniform(0.1, 0.9, 5)),
                                                                    f64(rng.random(5))])
    assert tg.gradcheck(lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=np.array(2.0)),
                        [f64(rng.standard_normal(5)), f64(rng.random(5))])
    assert tg.gradcheck(lambda a, b: F.mse_loss(a, b, reduction="none"),
                        [f64(rng.standard_normal(4)), f64(rng.standard_normal(4))])


def test_losses_refuse_mismatched_shapes_naming_both():
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(4, 1\) and target of shape "
                                         r"\(4,\) differ.*does not broadcast"):
        F.mse_loss(tg.ones(4, 1), tg.tensor([1., 2., 3., 4.]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input of shape \(3,\) and target "
                                         r"of shape \(3, 1\)"):
        F.binary_cross_entropy(tg.tensor([0.1, 0.2, 0.3]), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"logits of shape \(2,\) and target of shape \(1, 2\)"):
        F.binary_cross_entropy_with_logits(tg.tensor([0.1, 0.2]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"logits of shape \(2, 3\) and probability targets of "
                                         r"shape \(2, 4\)"):
        F.cross_entropy(tg.randn(2, 3), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"nll_loss: targets of shape \(3,\) do not match"):
        F.nll_loss(tg.randn(2, 3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\), "
                                         r"not 'avg'"):
        F.mse_loss(tg.ones(2), tg.ones(2), reduction="avg")
    with pytest.raises(TypeError, match="integer class ids or float class probabilities, not bool"):
        F.cross_entropy(tg.randn(2, 3), np.array([True, False]))


def test_losses_take_numpy_arrays_and_lists():
    assert F.mse_loss(np.ones(3), [1.0, 2.0, 3.0]).item() == pytest.approx(5 / 3)
    loss = F.cross_entropy(np.zeros((2, 4)), [1, 3])
    assert loss.dtype == np.float32 and loss.item() == pytest.approx(np.log(4))
