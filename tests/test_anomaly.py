"""detect_anomaly: the first NaN or Inf is reported where it is born: op, module, shapes, element."""
import numpy as np
import pytest
from support import f64

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.core.engine import module_scope, state


def test_a_planted_log_of_zero_is_named_in_the_forward():
    x = f64([[1.0, 2.0, 0.5], [3.0, 0.0, 4.0]])
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        h = (x * 2.0).exp()                                # fine
        with pytest.raises(tg.NonFiniteError) as info:
            (x * 2.0).log()
    msg = str(info.value)
    assert "Inf first appeared in the forward of op 'log'" in msg
    assert "element [1, 1]" in msg and "(2, 3)" in msg
    assert np.isfinite(h.data).all()


def test_the_module_path_is_named():
    x = f64([1.0, -1.0])
    with tg.detect_anomaly(), np.errstate(invalid="ignore"):
        with module_scope("encoder.layers.0.ffn"):
            with pytest.raises(tg.NonFiniteError,
                               match=r"NaN first appeared in the forward of op 'sqrt' in module "
                                     r"'encoder\.layers\.0\.ffn' at element \[1\]"):
                x.sqrt()


def test_a_nan_born_in_the_backward_names_the_op_and_the_input_edge():
    x = f64([4.0, 0.0, 1.0])
    y = (x.sqrt() * 3.0).sum()                   # forward finite: √0 = 0
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(tg.NonFiniteError,
                           match=r"Inf first appeared in the backward to input 0 of op 'sqrt' "
                                 r"at element \[1\], input shapes \(3,\)"):
            y.backward()                         # d√x/dx = 1/(2√x) = inf at 0


def test_only_the_first_op_is_blamed_and_nothing_is_checked_when_off():
    x = f64([0.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x.log() * 0.0                        # -inf, then NaN: no error while off
        assert np.isnan(y.data[0])
        with tg.detect_anomaly():
            inf = tg.Tensor([-np.inf, 1.0], dtype=np.float64, requires_grad=True)
            (inf * 2.0).exp()                    # an Inf came in (a mask): not born here, no error
    assert state.check_finite is False


def test_the_switch_is_restored_after_an_error():
    with pytest.raises(tg.NonFiniteError):
        with tg.detect_anomaly(), np.errstate(divide="ignore"):
            f64([0.0]).log()
    assert state.check_finite is False


class Planted(nn.Module):
    def forward(self, x):
        return (x - x).log()                     # log(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)
        self.head = Planted()

    def forward(self, x):
        return self.head(self.proj(x).tanh())


def test_inside_a_model_the_error_names_the_submodule():
    net = Net().astype(np.float64)
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(tg.NonFiniteError,
                           match=r"forward of op 'log' in module 'head' at element \[0, 0\], "
                                 r"input shapes \(2, 3\)"):
            net(tg.randn(2, 3, seed=0, dtype=np.float64))


def test_a_nan_already_in_a_weight_is_named_at_the_first_op_that_reads_it():
    # the case: a NaN in a weight passed the forward, and the backward blamed
    # log_softmax downstream; now the first op that reads the weight names it
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[2].weight.data[1, 3] = np.nan
    x = tg.randn(5, 3, seed=0)
    with tg.detect_anomaly():
        with pytest.raises(tg.NonFiniteError,
                           match=r"NaN was already in tensor '2.weight' \(a leaf: a weight or input, "
                                 r"not computed by an op\) at element \[1, 3\] when op 'linear' in "
                                 r"module '2' read it as input 1"):
            model(x).log_softmax(-1).sum().backward()


def test_a_nan_already_in_an_input_is_named():
    x = tg.Tensor([[1.0, np.nan]], name="batch")
    with tg.detect_anomaly():
        with pytest.raises(tg.NonFiniteError, match=r"NaN was already in tensor 'batch' .* element "
                                                    r"\[0, 1\] when op 'linear' "
                                                    r"read it as input 0"):
            nn.Linear(2, 2)(x)
        with pytest.raises(tg.NonFiniteError, match=r"an unnamed tensor of shape \(2,\) \(give it "
                                                    r"name= to see it named here\)"):
            tg.tensor([np.nan, 1.0]) * 2.0
    with np.errstate(invalid="ignore"):
        made_before = tg.Tensor([-1.0], requires_grad=True).sqrt()
    with tg.detect_anomaly():
        with pytest.raises(tg.NonFiniteError, match="made by op 'sqrt' before detect_anomaly was on"):
            made_before + 1.0
