"""Optimizers: turn each parameter's `.grad` into an update of its `.data`.

The update rules are PyTorch's (`torch.optim`, its single-tensor code path),
written out line by line in the same order so that a test can hold them to
PyTorch's numbers in float64. Every update happens in place on `param.data`,
in the parameter's own dtype (float32 stays float32). Parameters whose `.grad`
is None are skipped, as in PyTorch.

    opt = optim.AdamW(model.parameters(), lr=3e-4)
    loss.backward()
    optim.clip_grad_norm_(model.parameters(), 1.0)   # optional
    opt.step()
    opt.zero_grad()
"""
import numpy as np


class Optimizer:
    """The parameters, the learning rate `lr` (read afresh on every step, so a
    schedule may change it) and one state dict per parameter (momentum, moments).
    A subclass writes `_update(p, g, state)` for one parameter's array and gradient."""

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        if len({id(p) for p in self.params}) < len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in the list; it "
                             "would be updated twice per step")
        if not lr >= 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.lr = float(lr)
        self.state = [{} for _ in self.params]

    def zero_grad(self):
        """Forget every gradient (sets `.grad = None`, PyTorch's default)."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p.data, p.grad, state)

    def _update(self, p, g, state):
        raise NotImplementedError

    def state_dict(self):
        """What training needs to resume, as name → array for `tg.save`: `lr`, and
        `<i>.<key>` for parameter i's state (`0.step`, `0.exp_avg`, ...). Copies."""
        out = {"lr": np.array(self.lr)}
        for i, state in enumerate(self.state):
            for key, value in state.items():
                out[f"{i}.{key}"] = np.array(value)
        return out

    def load_state_dict(self, state_dict):
        """Restore what `state_dict()` gave, for the same parameters in the same order."""
        if "lr" not in state_dict:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing entry 'lr'")
        state = [{} for _ in self.params]
        for name, value in state_dict.items():
            if name == "lr":
                continue
            index, _, key = name.partition(".")
            if not index.isdigit() or int(index) >= len(self.params) or not key:
                raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected entry '{name}' "
                                 f"(this optimizer has {len(self.params)} parameters)")
            i = int(index)
            p = self.params[i]
            if key == "step":
                state[i][key] = int(value)
            elif np.shape(value) != p.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: '{name}' has shape "
                                 f"{np.shape(value)} but parameter {index} has shape {p.shape}")
            else:
                state[i][key] = np.array(value, dtype=p.dtype)
        self.lr, self.state = float(state_dict["lr"]), state


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum and L2 weight decay:

        g ← g + wd·p                         (weight decay: the gradient of wd/2·‖p‖²)
        b ← g on the first step, else μ·b + g  (momentum buffer)
        p ← p − lr·b                          (p − lr·g without momentum)
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += g
            g = state["momentum_buffer"]
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) as PyTorch computes it, at step t = 1, 2, ...:

        g ← g + wd·p                        (Adam: L2 decay folded into the gradient)
        m ← β1·m + (1−β1)·g                 (first moment, written as m + (1−β1)(g − m))
        v ← β2·v + (1−β2)·g²                (second moment)
        p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)

    m and v start at zero; the two bias corrections undo that start.
    """

    decoupled = False   # AdamW: decay the weights directly instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.betas = tuple(float(b) for b in betas)
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, p, g, state):
        beta1, beta2 = self.betas
        state["step"] = t = state.get("step", 0) + 1
        if self.weight_decay:
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = np.zeros_like(p), np.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / (1 - beta2 ** t) ** 0.5 + self.eps
        p -= step_size * m / denom


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
