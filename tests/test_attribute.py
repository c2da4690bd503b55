"""tg.attribute: the facts each method must satisfy, exactly where the math says so, and
attention rollout."""
import matplotlib
import numpy as np
import pytest

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.seeing.attribute import rollout

matplotlib.use("Agg")


def square_sum(t):
    """Σ x² over the last axes: a scalar for x, one value per row for a batch."""
    return (t * t).reshape(t.shape[0], -1).sum(axis=-1) if t.ndim == 3 else (t * t).sum()


def test_integrated_gradients_of_a_sum_of_squares_is_x_squared():
    x = np.random.default_rng(0).standard_normal((4, 5))
    for f, batched in ((square_sum, True), (lambda t: (t * t).sum(), False)):
        a = tg.attribute(f, x, steps=7)        # the midpoint rule is exact for a linear gradient
        assert a.batched == batched and a.method == "integrated_gradients"
        np.testing.assert_allclose(a.scores, x ** 2, rtol=1e-9)
        assert a.value == pytest.approx((x ** 2).sum(), rel=1e-12) and a.baseline_value == 0
        assert a.completeness_error < 1e-12


def test_for_a_linear_function_gradient_times_input_is_integrated_gradients():
    rng = np.random.default_rng(1)
    w, x, b = rng.standard_normal(6), rng.standard_normal(6), rng.standard_normal(6)
    f = lambda t: (t * w).sum(axis=-1) + 3.0                       # noqa: E731  (maps a batch too)
    gxi = tg.attribute(f, x, method="gradient_x_input")
    ig = tg.attribute(f, x, method="integrated_gradients", steps=3)
    np.testing.assert_allclose(gxi.scores, w * x, rtol=1e-12)
    np.testing.assert_allclose(ig.scores, gxi.scores, rtol=1e-12)
    grad = tg.attribute(f, x, method="gradient")
    np.testing.assert_allclose(grad.scores, w, rtol=1e-12)
    assert grad.completeness_error is None and gxi.completeness_error < 1e-12
    shifted = tg.attribute(f, x, baseline=b, method="integrated_gradients", steps=2)
    np.testing.assert_allclose(shifted.scores, w * (x - b), rtol=1e-12)
    assert shifted.baseline_value == pytest.approx(w @ b + 3.0, rel=1e-12)


def test_the_batched_and_the_one_point_at_a_time_paths_agree():
    x = np.random.default_rng(2).standard_normal((3, 4))
    f = lambda t: (t.tanh() * t).sum(axis=(-2, -1)) if t.ndim == 3 else (t.tanh() * t).sum()  # noqa: E731
    batched = tg.attribute(f, x, steps=16)
    one_by_one = tg.attribute(f, x, steps=16, batch=False)
    assert batched.batched and not one_by_one.batched
    np.testing.assert_allclose(batched.scores, one_by_one.scores, rtol=1e-10)
    assert batched.completeness_error < 1e-2      # tanh: the midpoint rule is close, not exact


def test_completeness_within_one_percent_at_64_steps_on_a_transformer():
    nn.manual_seed(0)
    model = nn.Transformer(11, 13, d_model=16, n_heads=2, n_layers=2, d_ff=32).astype(np.float64)
    model.eval()
    src, tgt = np.array([[4, 5, 6, 7, 8]]), np.array([[1, 5, 6]])
    e = model.src_embed.tokens.weight.data[src[0]] * model.src_embed.scale
    positions = model.src_embed.positions[:5].astype(np.float64)

    def f(t):                                   # logit of token 3 at position 2 from the embeddings
        x = t if t.ndim == 3 else t.reshape(1, 5, 16)
        n = x.shape[0]
        logits = model.generator(model.decode(np.repeat(tgt, n, 0), model.encoder(x + positions), None))
        out = logits[:, 2, 3]
        return out if t.ndim == 3 else out.reshape(())
    a = tg.attribute(f, e, steps=64)
    assert a.batched and a.completeness_error < 0.01
    with tg.no_grad():
        assert a.value == pytest.approx(model(src, tgt).data[0, 2, 3], rel=1e-9)


def test_a_function_that_mixes_the_batch_rows_is_caught():
    f = lambda t: t.sum(axis=-1) * t.mean() if t.ndim == 2 else t.sum() * t.mean()   # noqa: E731
    with pytest.raises(ValueError, match="mixes the batch"):
        tg.attribute(f, np.array([1.0, 2.0, 3.0]))
    assert tg.attribute(f, np.array([1.0, 2.0, 3.0]), batch=False).completeness_error < 1e-2


@pytest.mark.parametrize("call, error, message", [
    (lambda: tg.attribute(square_sum, np.ones(3), method="saliency"), ValueError, "unknown method"),
    (lambda: tg.attribute(square_sum, np.ones(3), steps=0), ValueError, "steps must be"),
    (lambda: tg.attribute(square_sum, np.array([1, 2, 3])), TypeError, "floating point"),
    (lambda: tg.attribute(square_sum, np.ones(3), baseline=np.zeros(4)), ValueError,
     r"baseline has shape \(4,\) but x has shape \(3,\)"),
    (lambda: tg.attribute(lambda t: t * 2, np.ones(3)), ValueError, "must return a scalar"),
    (lambda: tg.attribute(lambda t: 1.0, np.ones(3)), TypeError, "must return a tg.Tensor"),
    (lambda: tg.attribute(lambda t: tg.Tensor(t.data.sum()), np.ones(3), method="gradient"),
     ValueError, "does not depend on x"),
    (lambda: tg.attribute(lambda t: (t * t).sum(), np.ones(3), batch=True), ValueError,
     "does not return one value per row"),
    (lambda: tg.attribute("f", np.ones(3)), TypeError, "function of one Tensor"),
])
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_plot_and_html_show_the_scores_with_a_colour_scale():
    x = np.array([1.0, -2.0, 3.0])
    a = tg.attribute(square_sum_1d := (lambda t: (t * t).sum(axis=-1)), x, labels=["a", "b", "c"])
    assert square_sum_1d(tg.Tensor(x)).item() == 14
    fig = a.plot()
    assert len(fig.axes) == 2                   # the heatmap and its colour bar
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    page = a._repr_html_()
    assert "integrated_gradients" in page and "<th>b</th>" in page and "completeness error" in page
    assert "shape (3,)" in repr(a)


def test_rollout_of_identity_attention_is_the_identity_and_rows_sum_to_one():
    eye = np.eye(4)[None].repeat(2, 0)
    np.testing.assert_allclose(rollout([eye, eye]), np.eye(4))
    rng = np.random.default_rng(3)
    layers = [rng.dirichlet(np.ones(5), size=(2, 5)) for _ in range(3)]    # (heads, S, S), rows sum to 1
    r = rollout(layers)
    np.testing.assert_allclose(r.sum(axis=-1), 1.0)
    a = [0.5 * np.eye(5) + 0.5 * w.mean(axis=0) for w in layers]
    np.testing.assert_allclose(r, a[2] @ a[1] @ a[0])
    with pytest.raises(ValueError, match="layer 1's attention has shape"):
        rollout([np.eye(3), np.ones((2, 4, 4))])
    with pytest.raises(ValueError, match="no attention layers"):
        rollout([])
