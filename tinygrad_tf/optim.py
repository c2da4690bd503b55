"""Optimizers: turn each parameter's `.grad` into an update of its `.data`.

The update rules are PyTorch's (`torch.optim`, its single-tensor code path),
written out line by line in the same order so that a test can hold them to
PyTorch's numbers in float64. Every update happens in place on `param.data`,
in the parameter's own dtype (float32 stays float32). Parameters whose `.grad`
is None are skipped, as in PyTorch.

    opt = optim.AdamW(model.parameters(), lr=3e-4)
    opt = optim.AdamW([{"params": decay, "weight_decay": 0.1},   # or parameter groups,
                       {"params": no_decay, "weight_decay": 0.0}], lr=3e-4)   # as PyTorch
    loss.backward()
    optim.clip_grad_norm_(model.parameters(), 1.0)   # optional
    opt.step()
    opt.zero_grad()
"""
import math
from collections import namedtuple

import numpy as np

from .core import fused, threads
from .core.engine import mark_all_changed
from .core.tensor import Tensor


def _at_least_0(optimizer, group, *keys):
    """Refuse a group's `keys` below 0 (or NaN), or not numbers, naming the value; store
    each as a float."""
    for key in keys:
        value = group[key]
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.number)):
            hint = f"; write {key}={value}" if isinstance(value, str) else ""
            raise TypeError(f"{type(optimizer).__name__}: {key} must be a number, got {value!r} "
                            f"({type(value).__name__}){hint}")
        if not group[key] >= 0:
            raise ValueError(f"{type(optimizer).__name__}: {key} must be >= 0, got {group[key]}")
        group[key] = float(group[key])


class Optimizer:
    """Parameters in groups, each with its own hyper-parameters, as PyTorch's
    `param_groups`: `params` is a list of tensors (one group) or a list of dicts
    `{"params": [...], "lr": ..., ...}`, where a key a dict leaves out takes the
    default given to the constructor. `optimizer.param_groups[i]["lr"]` is read
    afresh on every step, so a schedule may change it; `optimizer.lr` (and each other
    hyper-parameter by name) reads the value all groups share, and setting it sets
    every group's. `state` holds one dict per parameter (momentum, moments), in the
    order of `params`, the parameters of all groups one after another.
    A subclass gives its defaults and `_check`, and writes `_update(p, g, state, group)`
    for one parameter's array and gradient."""

    def __init__(self, params, defaults):
        object.__setattr__(self, "defaults", defaults)
        self.param_groups, self.params, self.state = [], [], []
        if hasattr(params, "parameters") and not isinstance(params, (list, tuple, dict)):
            raise TypeError(f"{type(self).__name__}: pass the model's parameters, "
                            f"{type(self).__name__}(model.parameters(), ...), not the "
                            f"{type(params).__name__} itself")
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be a list of tensors (or of parameter "
                            f"groups), not one tensor: write {type(self).__name__}([w], ...)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a dict {"params": [...], hyper-parameter: value, ...}; keys left out take
        the constructor's defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group is a dict with a 'params' list, got "
                            f"{type(group).__name__}; pass a list of tensors or a list of such dicts")
        unknown = sorted(set(group) - {"params"} - set(self.defaults))
        if unknown:
            raise ValueError(f"{name}: unknown hyper-parameter {', '.join(map(repr, unknown))} in "
                             f"a parameter group; {name} takes {', '.join(self.defaults)}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameters must be Tensors, got {type(p).__name__}")
        seen = {id(p) for p in self.params}
        if len({id(p) for p in params}) < len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{name}: a parameter appears twice in the list (or in two groups); "
                             "it would be updated twice per step")
        group = {**self.defaults, **group, "params": params}
        self._check(group)
        self.param_groups.append(group)
        self.params.extend(params)
        self.state.extend({} for _ in params)

    def _check(self, group):
        """Refuse hyper-parameters outside their range, naming the value (NaN fails too)."""
        _at_least_0(self, group, "lr")

    def __getattr__(self, key):        # optimizer.lr, .betas, ...: the value every group shares
        defaults = vars(self).get("defaults", {})
        if key not in defaults:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")
        values = [group[key] for group in self.param_groups]
        if any(v != values[0] for v in values):
            raise AttributeError(f"{type(self).__name__}.{key}: the parameter groups have different "
                                 f"values {values}; read optimizer.param_groups[i][{key!r}]")
        return values[0]

    def __setattr__(self, key, value):  # optimizer.lr = x sets every group's lr
        if key in vars(self).get("defaults", {}):
            for group in self.param_groups:
                checked = {**group, key: value}
                self._check(checked)    # (a copy: a refused value leaves the group as it was)
                group[key] = checked[key]   # the normalised value (a float, a tuple of floats)
        else:
            object.__setattr__(self, key, value)

    def zero_grad(self, set_to_none=True):
        """Forget every gradient (sets `.grad = None`, PyTorch's default), or with
        set_to_none=False fill it with zeros."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def step(self):
        """Update every parameter that has a gradient, in place, with its group's settings.
        The parameters are stamped as changed: a graph built before the step refuses its
        backward (its saved weights are gone), as PyTorch's."""
        i = 0
        for group in self.param_groups:
            n = len(group["params"])
            self._step_group(group, self.state[i:i + n])
            i += n
        mark_all_changed([p for p in self.params if p.grad is not None], f"{type(self).__name__}.step()")

    def _step_group(self, group, states):
        """One group's update: each parameter that has a gradient in turn."""
        for p, state in zip(group["params"], states):
            if p.grad is not None:
                self._update(p.data, p.grad, state, group)

    def _update(self, p, g, state, group):
        raise NotImplementedError

    def state_dict(self):
        """What training needs to resume, as name → array for `tg.save`: each group's
        hyper-parameters as `param_groups.<g>.<key>` (`param_groups.0.lr`, ...) and its
        size as `param_groups.<g>.size`, and `<i>.<key>` for parameter i's state
        (`0.step`, `0.exp_avg`, ...), i counting through all groups. Copies."""
        out = {}
        for g, group in enumerate(self.param_groups):
            out[f"param_groups.{g}.size"] = np.array(len(group["params"]))
            for key in self.defaults:
                out[f"param_groups.{g}.{key}"] = np.array(group[key])
        for i, state in enumerate(self.state):
            for key, value in state.items():
                out[f"{i}.{key}"] = np.array(value)
        return out

    def load_state_dict(self, state_dict):
        """Restore what `state_dict()` gave, for the same parameters in the same groups."""
        name = f"{type(self).__name__}.load_state_dict"
        groups = [dict(group) for group in self.param_groups]
        for g, group in enumerate(groups):
            for key in ("size", *self.defaults):
                entry = f"param_groups.{g}.{key}"
                if entry not in state_dict:
                    raise ValueError(f"{name}: missing entry '{entry}' (this optimizer has "
                                     f"{len(groups)} parameter group{'s' * (len(groups) > 1)})")
                value = np.asarray(state_dict[entry])
                if key == "size":
                    if int(value) != len(group["params"]):
                        raise ValueError(f"{name}: group {g} had {int(value)} parameters in the "
                                         f"checkpoint, this optimizer's has {len(group['params'])}")
                else:
                    group[key] = tuple(value.tolist()) if value.ndim else value.item()
            self._check(group)
        state = [{} for _ in self.params]
        for entry, value in state_dict.items():
            if entry.startswith("param_groups."):
                g = entry.split(".")[1]
                if g.isdigit() and int(g) < len(groups):
                    continue
            index, _, key = entry.partition(".")
            if not index.isdigit() or int(index) >= len(self.params) or not key:
                raise ValueError(f"{name}: unexpected entry '{entry}' (this optimizer has "
                                 f"{len(self.params)} parameters in {len(groups)} group"
                                 f"{'s' * (len(groups) > 1)})")
            i = int(index)
            p = self.params[i]
            if key == "step":
                state[i][key] = int(value)
            elif np.shape(value) != p.shape:
                raise ValueError(f"{name}: '{entry}' has shape {np.shape(value)} but parameter "
                                 f"{index} has shape {p.shape}")
            else:
                state[i][key] = np.array(value, dtype=p.dtype)
        for group, restored in zip(self.param_groups, groups):
            group.update(restored)
        self.state = state


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum and L2 weight decay:

        g ← g + wd·p                         (weight decay: the gradient of wd/2·‖p‖²)
        b ← g on the first step, else μ·b + g  (momentum buffer)
        p ← p − lr·b                          (p − lr·g without momentum)

    With `nesterov=True` the step looks ahead along the momentum: p ← p − lr·(g + μ·b).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                                  "nesterov": nesterov})

    def _check(self, group):
        super()._check(group)
        _at_least_0(self, group, "momentum", "weight_decay")
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and not group["momentum"]:
            raise ValueError("SGD: nesterov=True needs a momentum > 0 (PyTorch's rule too)")

    def _update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if group["momentum"]:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= group["momentum"]
                buf += g
            g = g + group["momentum"] * state["momentum_buffer"] if group["nesterov"] else \
                state["momentum_buffer"]
        p -= group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) as PyTorch computes it, at step t = 1, 2, ...:

        g ← g + wd·p                        (Adam: L2 decay folded into the gradient)
        m ← β1·m + (1−β1)·g                 (first moment, written as m + (1−β1)(g − m))
        v ← β2·v + (1−β2)·g²                (second moment)
        p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)

    m and v start at zero; the two bias corrections undo that start. Refused, naming
    the value: betas outside [0, 1), eps <= 0 (PyTorch allows 0, where a parameter
    whose gradients are all 0 gets 0/0 = NaN), weight_decay < 0, lr < 0.
    """

    decoupled = False   # AdamW: decay the weights directly instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self._flat = {}     # id(group) -> its _FlatState, for `_step_group`

    def _check(self, group):
        super()._check(group)
        _at_least_0(self, group, "weight_decay")
        name, betas = type(self).__name__, group["betas"]
        if np.ndim(betas) != 1 or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: betas[{k}] must be in [0, 1), got {beta}")
        if not group["eps"] > 0:
            raise ValueError(f"{name}: eps must be > 0 (it keeps m/(√v + eps) finite), got {group['eps']}")
        group["betas"], group["eps"] = tuple(float(b) for b in betas), float(group["eps"])

    def _update(self, p, g, state, group):
        lr, weight_decay = group["lr"], group["weight_decay"]
        state["step"] = t = state.get("step", 0) + 1
        if weight_decay:
            if self.decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = np.zeros_like(p), np.zeros_like(p)
        scratch = np.empty(p.shape, dtype=np.result_type(g, p))
        p -= _adam_step(g, state["exp_avg"], state["exp_avg_sq"], scratch, t, group)

    def _step_group(self, group, states):
        """As `_update` on each parameter, but, when every parameter of the group has a
        gradient of its dtype, one dtype and one step count, and no weight decay enters the gradient,
        on all of them at once: m and v are views of one flat array each (so `state` holds
        them as usual), the gradients are copied into a third, and the step is worked out
        in one pass per line of the formula instead of one per line and parameter."""
        params = group["params"]
        flat = self._flat_state(group, states)
        if flat is None:
            return super()._step_group(group, states)
        for p, view in zip(params, flat.grads):
            np.copyto(view, p.grad)
        t = states[0].get("step", 0) + 1
        for state in states:
            state["step"] = t
        if group["weight_decay"]:                       # decoupled (AdamW): p·(1 − lr·wd)
            for p in params:
                p.data *= 1 - group["lr"] * group["weight_decay"]
        arrays = (flat.g, flat.m, flat.v, flat.scratch)  # as blocks on the thread pool when large
        threads.run(lambda todo: [_adam_step(*block, t, group) for block in todo],
                    fused.blocks(*arrays) if threads.large(flat.g.size) else [arrays], flat.g.size)
        for p, step in zip(params, flat.steps):
            p.data -= step

    def _flat_state(self, group, states):
        """The group's `_FlatState` for `_step_group`, made on a first step or taken over from
        separate arrays (a loaded state), or None when the group has to be updated one
        parameter at a time."""
        params = group["params"]
        if (len(params) < 2 or any(p.grad is None or p.grad.dtype != p.dtype for p in params)
                or len({p.dtype for p in params}) > 1
                or (group["weight_decay"] and not self.decoupled)
                or len({state.get("step", 0) for state in states}) > 1):
            return None
        flat = self._flat.get(id(group))
        if (flat is not None and flat.shapes == [p.shape for p in params]
                and all(state.get("exp_avg") is mv and state.get("exp_avg_sq") is vv
                        for state, mv, vv in zip(states, flat.m_views, flat.v_views))):
            return flat
        if any(("exp_avg" in state) != ("exp_avg" in states[0]) for state in states):
            return None
        sizes = [p.data.size for p in params]
        bounds = np.cumsum([0] + sizes)
        m, v, g, scratch = np.zeros((4, bounds[-1]), dtype=params[0].dtype)
        cut = [(lo, hi, p.shape) for lo, hi, p in zip(bounds[:-1], bounds[1:], params)]
        m_views, v_views = [m[lo:hi].reshape(shape) for lo, hi, shape in cut], \
            [v[lo:hi].reshape(shape) for lo, hi, shape in cut]
        for state, mv, vv in zip(states, m_views, v_views):
            if "exp_avg" in state:                      # taken over: copied into the flat arrays
                mv[...], vv[...] = state["exp_avg"], state["exp_avg_sq"]
            state["exp_avg"], state["exp_avg_sq"] = mv, vv
        grads, steps = ([a[lo:hi].reshape(shape) for lo, hi, shape in cut] for a in (g, scratch))
        self._flat[id(group)] = flat = _FlatState(m, v, g, scratch, grads, steps, m_views, v_views,
                                                [p.shape for p in params])
        return flat


_FlatState = namedtuple("_FlatState", "m v g scratch grads steps m_views v_views shapes")
_FlatState.__doc__ = """One parameter group's Adam state as flat arrays (`Adam._step_group`): the
moments m and v, the gradients copied into g, the step worked out in scratch (four flat
arrays, each as long as all the group's parameters); each parameter's view of g and of
scratch (`grads`, `steps`) and of m and v (`m_views`, `v_views`: the arrays its `state`
holds as exp_avg and exp_avg_sq), and the parameters' shapes they were cut for."""


def _adam_step(g, m, v, scratch, t, group):
    """Adam's update of m and v (in place) from the gradient g at step t, and the step
    lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε) (into `scratch`, returned): the docstring's
    formulas as in-place passes, in PyTorch's order of operations, every line costing no
    array of its own."""
    beta1, beta2 = group["betas"]
    np.subtract(g, m, out=scratch)
    scratch *= 1 - beta1
    m += scratch                                    # m + (1−β1)(g − m)
    np.multiply(g, 1 - beta2, out=scratch)
    scratch *= g
    v *= beta2
    v += scratch                                    # β2·v + (1−β2)·g²
    denom = np.sqrt(v, out=scratch)
    denom /= (1 - beta2 ** t) ** 0.5
    denom += group["eps"]                           # √v / √(1−β2^t) + ε
    step = np.divide(m, denom, out=scratch)
    step *= group["lr"] / (1 - beta1 ** t)
    return step                                     # lr/(1−β1^t) · m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): before the Adam
    step the weights shrink, p ← p·(1 − lr·wd), and the gradient is left alone."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


def clip_grad_norm_(params, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most `max_norm`;
    return the norm before clipping (a float), as `torch.nn.utils.clip_grad_norm_`:

        total = ‖(‖g₁‖, ‖g₂‖, ...)‖  (the norm of every gradient as one long vector)
        g ← g · min(max_norm / (total + 1e-6), 1)
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.number)) or not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r} (a negative "
                         "one would flip every gradient's sign)")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    total = np.linalg.norm([np.linalg.norm(g.ravel()) for g in grads])
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return float(total)


def noam_lr(step, d_model, warmup, factor=1.0):
    """The learning rate of "Attention Is All You Need" (2017) at step 1, 2, ...:

        lr = factor · d_model^−0.5 · min(step^−0.5, step · warmup^−1.5)

    It rises linearly for `warmup` steps, peaks at step == warmup at
    factor · (d_model · warmup)^−0.5, then decays as 1/√step.
    """
    if step < 1:
        raise ValueError(f"noam_lr: steps count from 1, got {step}")
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


class NoamSchedule:
    """Drive `optimizer.lr` with `noam_lr`. Making the schedule sets the lr of the
    first update (step 1); call `.step()` after each `optimizer.step()` to move on:

        sched = optim.NoamSchedule(opt, d_model=64, warmup=100)
        for batch in data:
            ...; opt.step(); sched.step(); opt.zero_grad()
    """

    def __init__(self, optimizer, d_model, warmup, factor=1.0):
        if warmup < 1:
            raise ValueError(f"NoamSchedule: warmup must be >= 1, got {warmup}")
        self.optimizer, self.d_model, self.warmup, self.factor = optimizer, d_model, warmup, factor
        self.step_num = 0
        self.step()

    def step(self):
        """Advance one step and set the optimizer's lr for it; returns that lr."""
        self.step_num += 1
        self.lr = noam_lr(self.step_num, self.d_model, self.warmup, self.factor)
        self.optimizer.lr = self.lr
        return self.lr


# ----------------------------------------------------------------- schedules
class LRScheduler:
    """Set each parameter group's lr from its starting lr (`base_lrs`) and the count of
    `.step()` calls so far (`last_epoch`), as `torch.optim.lr_scheduler`: making the
    scheduler sets the lr for epoch 0; call `.step()` after each `optimizer.step()`.
    A subclass gives `factor(epoch, base_lr, k)` (group k's lr at `epoch`)."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def step(self):
        self.last_epoch += 1
        for k, (group, base) in enumerate(zip(self.optimizer.param_groups, self.base_lrs)):
            group["lr"] = self.lr_at(self.last_epoch, base, k)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lr of each group set by the last step."""
        return list(self._last_lr)

    def lr_at(self, epoch, base_lr, k):
        raise NotImplementedError


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(epoch) (one function, or one per parameter group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(self.lr_lambdas) != n:
            raise ValueError(f"LambdaLR: {len(self.lr_lambdas)} functions for {n} parameter groups")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch, base_lr, k):
        return base_lr * self.lr_lambdas[k](epoch)


class StepLR(LRScheduler):
    """lr = base_lr · gamma^⌊epoch / step_size⌋: multiplied by gamma every step_size steps."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch, base_lr, k):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr − eta_min)·(1 + cos(π·epoch / T_max)) / 2: from base_lr
    down to eta_min over T_max steps along half a cosine (and back up after, as PyTorch)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be > 0, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch, base_lr, k):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
