"""`Module`: a forward function plus the parameters and submodules it owns.

A module finds its parameters by looking at its own attributes: a `Parameter` is a
leaf of the tree, a `Module` a branch, so

    model.encoder.layers[0].self_attn.q_proj.weight

is named `encoder.layers.0.self_attn.q_proj.weight` in `named_parameters()` and
`state_dict()`.

Names are given when a module or parameter is attached (assigned as an attribute of
a module): each one's dotted path from the outermost module it hangs under, written
into `module._path` and `parameter.name`. Attaching a whole subtree (a block into a
model) renames everything in it, so the names never depend on which module you call.
A module or parameter attached a second time (a shared weight, a slice of a
ModuleList) keeps the name of its first place. Calling a module runs its `forward`
inside `engine.module_scope(module._path)`, so every op made there records the same
path (`op.module`), for graphs and traces.
"""
import copy
import functools
from collections import OrderedDict, namedtuple

import numpy as np

from ..core.engine import mark_all_changed, module_scope
from ..core.tensor import Tensor, check_device, is_device


class IncompatibleKeys(namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")):
    """What `load_state_dict` returns, as PyTorch: the model's names the dict lacked,
    and the dict's names the model does not have (both empty when strict)."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"                # (PyTorch's words)
        return super().__repr__()


def _dotted(path, name):
    """`name` below the module at `path`: "encoder" + "norm" → "encoder.norm"; "" + "norm" → "norm"."""
    return f"{path}.{name}" if path else name


class ModulePath(str):
    """A module's dotted path (a str), carrying the class of each module along it,
    `classes`: ((path, class name), ...), outermost first, for graph tools to label
    modules with (`encoder.layers.0` is an EncoderBlock)."""

    def __new__(cls, path, classes=()):
        self = super().__new__(cls, path)
        self.classes = tuple(classes)
        return self


class Parameter(Tensor):
    """A Tensor that requires grad and that modules collect as a weight. An array or
    Tensor of a float dtype keeps it; other float data (numbers, lists) becomes float32,
    as for Tensor; integer data is refused (only floats can require grad)."""
    __slots__ = ("_owner",)     # the module it was first attached to (see Module.__setattr__)

    def __init__(self, data, dtype=None):
        data = data.data if isinstance(data, Tensor) else data
        if dtype is None and isinstance(data, np.ndarray) and np.issubdtype(data.dtype, np.floating):
            dtype = data.dtype
        super().__init__(data, requires_grad=True, dtype=dtype)
        self._owner = None

    def __deepcopy__(self, memo):
        return _deep_copy(self, memo)


class Module:
    """Subclasses set parameters and submodules as attributes in `__init__` (after
    `super().__init__()`) and define `forward`. Arrays named in `buffers` (such as
    BatchNorm's running statistics) are state, saved and loaded, but not trained."""
    buffers = ()
    _temporary = ()         # buffers registered with persistent=False: not in state_dict
    training = True
    _path = ""              # dotted path from the outermost module this one hangs under
    _owner = None           # (module, attribute name) where it was first attached

    def __init__(self):
        self.training = True

    def __setattr__(self, name, value):
        self._detach(name, value)
        object.__setattr__(self, name, value)
        if isinstance(value, (Module, Parameter)) and _owner(value) is None:
            value._owner = (self, name)
            _name_tree(self, name, value)

    def __delattr__(self, name):
        self._detach(name, None)
        object.__delattr__(self, name)

    def _detach(self, name, value):
        """The module or parameter at `name`, about to be replaced by `value` or deleted,
        is free to be attached (and named) elsewhere."""
        old = vars(self).get(name)
        if isinstance(old, (Module, Parameter)) and old is not value and _owner(old) is self:
            old._owner = None

    def __deepcopy__(self, memo):
        """A copy of this module and what it owns, not of the model it hangs in (as
        PyTorch's: `clones = [copy.deepcopy(layer) for _ in range(N)]`); the copy is
        unattached, named from itself until it is attached somewhere."""
        return _deep_copy(self, memo)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        with module_scope(self._path):
            return self.forward(*args, **kwargs)

    # ---------------------------------------------------------- the tree
    def children(self):
        """(name, submodule) for each direct submodule, in assignment order."""
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def named_modules(self, prefix=""):
        """(dotted path, module) for this module ("" or `prefix`) and all below it."""
        out, stack = [], [(prefix, self)]
        while stack:
            path, module = stack.pop()
            out.append((path, module))
            stack.extend(reversed([(_dotted(path, k), m) for k, m in module.children()]))
        return out

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self):
        """(dotted name, Parameter) for every parameter, each once, in layer order."""
        seen, out = set(), []
        for path, module in self.named_modules():
            for k, v in vars(module).items():
                if isinstance(v, Parameter) and id(v) not in seen:
                    seen.add(id(v))
                    out.append((_dotted(path, k), v))
        return out

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def _named_buffers(self, persistent_only=False):
        return [(_dotted(path, k), module, k) for path, module in self.named_modules()
                for k in module.buffers + (() if persistent_only else module._temporary)
                if getattr(module, k) is not None]

    def register_buffer(self, name, tensor, persistent=True):
        """Keep `tensor` (a Tensor, an array, or None) as state that is not trained, as
        PyTorch: an attribute `name`, cast by `astype`/`to`, and (when `persistent`) saved
        in `state_dict` and loaded by `load_state_dict`."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: a buffer's name must be a non-empty string without "
                           f"dots, got {name!r}")
        if hasattr(self, name) and name not in self.buffers + self._temporary:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, (Tensor, np.ndarray)):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(a Tensor, an array or None required)")
        keep = [k for k in self.buffers if k != name], [k for k in self._temporary if k != name]
        keep[0 if persistent else 1].append(name)
        object.__setattr__(self, "buffers", tuple(keep[0]))
        object.__setattr__(self, "_temporary", tuple(keep[1]))
        object.__setattr__(self, name, tensor)

    def zero_grad(self, set_to_none=True):
        """Forget every gradient (`.grad = None`), or with set_to_none=False fill it with 0."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def apply(self, fn):
        """Call `fn(module)` on every submodule, then on this one (PyTorch's order, e.g.
        for custom initialisation); returns this module."""
        for _, module in reversed(self.named_modules()):
            fn(module)
        return self

    def requires_grad_(self, requires_grad=True):
        """Switch gradients on or off for every parameter (False freezes them: backward
        leaves their .grad alone and optimizers skip them); returns this module."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype):
        """PyTorch's `module.to(...)`: a float dtype casts as `astype`; "cpu" is where
        everything already is (NumPy), so it changes nothing. Returns this module."""
        if is_device(dtype):
            check_device(dtype, "to")
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"to: expected a float dtype (np.float32, np.float64) or 'cpu', "
                            f"got {dtype!r}; tinygrad_tf runs on NumPy, on the CPU") from None
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"to: parameters must stay floating point, not {dtype}")
        return self.astype(dtype)

    def astype(self, dtype):
        """Cast every parameter and float buffer in place (e.g. to float64 for
        gradcheck); gradients are dropped. Returns the module."""
        for p in self.parameters():
            p.data, p.grad = p.data.astype(dtype), None
        mark_all_changed(self.parameters(), f"{type(self).__name__}.astype")
        for _, module, k in self._named_buffers():
            buf = getattr(module, k)
            if np.issubdtype(buf.dtype, np.floating):
                object.__setattr__(module, k, buf.astype(dtype))
        return self

    # ---------------------------------------------------------- state
    def double(self):
        """Every parameter and float buffer to float64 (PyTorch's `module.double()`)."""
        return self.astype(np.float64)

    def float(self):
        """Every parameter and float buffer to float32 (PyTorch's `module.float()`)."""
        return self.astype(np.float32)

    def state_dict(self):
        """{dotted name: copy of the array} for every parameter and persistent buffer."""
        d = {name: p.data.copy() for name, p in self.named_parameters()}
        for name, module, k in self._named_buffers(persistent_only=True):
            d[name] = np.array(getattr(module, k), copy=True)
        return d

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers of the same names (each keeps
        its dtype). A wrongly shaped entry is an error; with `strict`, so are missing
        and unexpected names. Nothing is changed unless every check passes. Returns
        `(missing_keys, unexpected_keys)` (a named tuple, as PyTorch)."""
        if isinstance(state_dict, (str, bytes)) or hasattr(state_dict, "__fspath__"):
            raise TypeError(f"load_state_dict takes a dict of arrays, not the file name "
                            f"{str(state_dict)!r}: read the file first, "
                            f"model.load_state_dict(tg.load({str(state_dict)!r}))")
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict takes a dict of arrays (name → array), "
                            f"not {type(state_dict).__name__}")
        params = dict(self.named_parameters())
        buffers = {name: (module, k) for name, module, k in self._named_buffers(persistent_only=True)}
        current = {name: p.data for name, p in params.items()}
        current.update({name: getattr(module, k) for name, (module, k) in buffers.items()})
        arrays = {name: np.asarray(v) for name, v in state_dict.items()}
        problems = []
        missing = [n for n in current if n not in arrays]
        unexpected = [n for n in arrays if n not in current]
        if strict:
            if missing:
                problems.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                problems.append(f"unexpected keys: {', '.join(unexpected)}")
        for name, array in arrays.items():
            if name in current and array.shape != current[name].shape:
                problems.append(f"wrong shape for {name}: the checkpoint has {array.shape}, "
                                f"the model expects {current[name].shape}")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        mark_all_changed([params[name] for name in arrays if name in params], "load_state_dict")
        for name, array in arrays.items():
            if name in params:
                params[name].data = array.astype(current[name].dtype)       # a fresh copy
            elif name in buffers:
                module, k = buffers[name]
                value = array.astype(current[name].dtype)
                if isinstance(getattr(module, k), Tensor):
                    getattr(module, k).data = value
                else:
                    setattr(module, k, value)
        return IncompatibleKeys(missing, unexpected)

    def __repr__(self):
        lines = [f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self.children()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}({extra}\n" + "\n".join(lines) + "\n)"

    def extra_repr(self):
        return ""


def module_name(module):
    """How an error names a module: its class, and inside a model its dotted path:
    `Linear 'encoder.layers.0.ffn.up'` (a module on its own: `Linear`)."""
    return f"{type(module).__name__} '{module._path}'" if module._path else type(module).__name__


def _owner(x):
    """The module `x` (a Module or Parameter) was attached to, or None."""
    return x._owner[0] if x._owner is not None else None


def _deep_copy(x, memo):
    """copy.deepcopy of a Module or Parameter `x` that does not follow its owner link out
    of what is copied: the copy is unattached (its owner and its path are reset), and
    what it owns is named below it."""
    new = object.__new__(type(x))
    memo[id(x)] = new
    if isinstance(x, Module):
        for k, v in vars(x).items():
            if k != "_owner":
                object.__setattr__(new, k, copy.deepcopy(v, memo))
        object.__setattr__(new, "_path", "")
        object.__setattr__(new, "_owner", None)
    else:
        for k in ("data", "_grad", "requires_grad", "name", "_ctx", "_version"):
            object.__setattr__(new, k, copy.deepcopy(getattr(x, k), memo))
        new._owner = None
    owner = x._owner
    if owner is not None and id(owner[0]) in memo:   # (copied along with its owner)
        new._owner = (memo[id(owner[0])], owner[1])
    if isinstance(x, Module):
        for k, v in vars(new).items():
            if isinstance(v, (Module, Parameter)) and v._owner is None:
                v._owner = (new, k)                  # owned from outside the copy: now by it
            if isinstance(v, (Module, Parameter)) and _owner(v) is new:
                _name_tree(new, k, v)
    return new


def _name_tree(parent, name, value):
    """Write the dotted names of `value`, just attached to `parent` as `name`, and of
    everything it owns below it (a plain stack, no recursion)."""
    stack = [(parent, name, value)]
    while stack:
        parent, name, x = stack.pop()
        full = _dotted(parent._path, name)
        if isinstance(x, Parameter):
            x.name = full
            continue
        object.__setattr__(x, "_path", ModulePath(full, (*getattr(parent._path, "classes", ()),
                                                         (full, type(x).__name__))))
        stack.extend((x, k, v) for k, v in vars(x).items()
                     if isinstance(v, (Module, Parameter)) and _owner(v) is x)


def scoped(method):
    """Run a method other than `forward` (encode, generate, ...) in the module's scope,
    as calling the module runs `forward`."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with module_scope(self._path):
            return method(self, *args, **kwargs)
    return wrapper


def _must_be_module(module, name):
    """PyTorch's refusal of a non-Module where a submodule goes (a function, a number)."""
    if not isinstance(module, Module):
        what = getattr(module, "__name__", None) if callable(module) else None
        hint = (f" (a function such as {what} goes in as its module, e.g. nn.ReLU() for F.relu)"
                if what else " (pass the modules themselves: nn.Sequential(*modules))"
                if isinstance(module, (list, tuple)) else "")
        raise TypeError(f"{type(module).__name__} is not a Module subclass: {name} takes Modules"
                        f"{hint}")


class ModuleList(Module):
    """A list of submodules, named "0", "1", ...; it has no forward of its own."""

    def __init__(self, modules=()):
        super().__init__()
        if isinstance(modules, Module):
            raise TypeError(f"ModuleList takes a list of modules, not one {type(modules).__name__}: "
                            "write ModuleList([module])")
        for m in modules:
            self.append(m)

    def append(self, module):
        _must_be_module(module, type(self).__name__)
        setattr(self, str(len(self)), module)
        return self

    def __getitem__(self, i):
        modules = [m for _, m in self.children()]
        return ModuleList(modules[i]) if isinstance(i, slice) else modules[i]

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter([m for _, m in self.children()])


class Sequential(ModuleList):
    """Modules applied in order, each to the output of the one before; named "0", "1", ...,
    or, given one OrderedDict (PyTorch's other form), by its keys:
    `nn.Sequential(OrderedDict([("fc", nn.Linear(3, 2)), ("act", nn.ReLU())]))`."""

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            super().__init__()
            for key, module in modules[0].items():
                if not isinstance(key, str) or not key or "." in key or hasattr(self, key):
                    raise KeyError(f"Sequential: a layer's name must be a new non-empty string "
                                   f"without dots, got {key!r}")
                _must_be_module(module, "Sequential")
                setattr(self, key, module)
            return
        super().__init__(modules)

    def __getitem__(self, i):
        part = super().__getitem__(i)
        return Sequential(*part) if isinstance(i, slice) else part

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleDict(Module):
    """Submodules by name, in insertion order, as a dict: `d["encoder"]`, `d[k] = m`,
    `del d[k]`, `in`, `len`, iteration over the keys, `keys() values() items()
    update()`. Each is named by its key (`heads.sentiment.weight`); it has no forward
    of its own. Keys are strings without dots that are not already attributes."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: a key must be a non-empty string without dots, got {key!r}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} must be a Module, not {type(module).__name__}")
        if key not in vars(self) and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} is already an attribute (a method or "
                           f"setting) of ModuleDict; choose another name")
        setattr(self, key, module)

    def __getitem__(self, key):
        if key not in self:
            raise KeyError(f"ModuleDict has no module {key!r}; keys: {list(self.keys())}")
        return vars(self)[key]

    def __delitem__(self, key):
        self[key]                               # (a missing key: the KeyError naming the keys)
        delattr(self, key)                      # Module.__delattr__ frees it to be attached elsewhere

    def __contains__(self, key):
        return isinstance(vars(self).get(key), Module)

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.keys())

    def keys(self):
        return [k for k, _ in self.children()]

    def values(self):
        return [m for _, m in self.children()]

    def items(self):
        return self.children()

    def update(self, modules):
        """Add (or replace) modules from a dict or (key, module) pairs."""
        for key, module in (modules.items() if hasattr(modules, "items") else modules):
            self[key] = module
