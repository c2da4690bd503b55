"""Checkpoints: a state dict (name → array) to and from an `.npz` file.

An `.npz` is a zip archive holding one `.npy` file per name, so NumPy reads a
checkpoint directly (`np.load(path)["encoder.layers.0.norm1.weight"]`) and no
pickle is ever written or read. Arrays keep their dtypes and shapes.

Saving writes a temporary file next to the target and renames it over the
target only when it is complete (`os.replace` is atomic), so a save that is
interrupted (an error, Ctrl-C, a full disk) leaves the previous checkpoint
as it was. A process killed outright (SIGKILL, power loss) cannot remove its
temporary file, so the name says who wrote it, `.<file>.<host>.<pid>.<random>.tmp`,
and the next save of the same target removes those whose writer was on this host
and no longer runs; any other file is left alone. Loading a missing, truncated or
foreign file raises `CheckpointError` naming the file.
"""
import os
import re
import secrets
import socket
import zipfile
from collections.abc import Mapping

import numpy as np

from .core.tensor import Tensor


class CheckpointError(ValueError):
    """The file is not a checkpoint that `tg.load` can read (the message says why)."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No file at the path: both a `CheckpointError` and a `FileNotFoundError`."""


def _arrays(state_dict):
    """Check the names and turn every value (Tensor, array, number) into an ndarray."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a dict of name -> array, got {type(state_dict).__name__}")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save: names must be non-empty strings, got {name!r}")
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(f"save: '{name}' holds Python objects ({type(value).__name__}); "
                            "only numeric arrays can be saved")
        arrays[name] = array
    return arrays


def _host():
    """This machine's name as it goes into a temporary file's name (no dots or separators)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _alive(pid):
    """Whether a process with this id exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _remove_stale_temporaries(directory, filename):
    """Remove `.<filename>.<host>.<pid>.<hex>.tmp` files left in `directory` by saves of
    the same target, on this host, whose process is gone (killed while saving).
    Returns the names removed. Files of other targets or hosts, or of a live writer,
    stay."""
    pattern = re.compile(re.escape(f".{filename}.{_host()}.") + r"(\d+)\.[0-9a-f]{8}\.tmp")
    removed = []
    for name in os.listdir(directory):
        match = pattern.fullmatch(name)
        if match and int(match[1]) != os.getpid() and not _alive(int(match[1])):
            try:
                os.remove(os.path.join(directory, name))
            except FileNotFoundError:    # another save removed it first
                continue
            removed.append(name)
    return removed


def save(state_dict, path):
    """Write `state_dict` (name → Tensor or array) to `path` as an `.npz` file,
    replacing any previous file there only once the new one is complete."""
    arrays = _arrays(state_dict)
    path = os.fspath(path)
    directory, filename = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory '{directory}' does not exist (saving '{path}')")
    _remove_stale_temporaries(directory, filename)
    tmp = os.path.join(directory, f".{filename}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            with zipfile.ZipFile(f, "w", allowZip64=True) as archive:
                for name, array in arrays.items():
                    with archive.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())          # the bytes are on disk before the rename
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a checkpoint written by `save` (or by `np.savez`) → dict name → np.ndarray."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError as e:
        raise CheckpointNotFoundError(f"load: no checkpoint at '{path}' (file not found)") from e
    except OSError as e:
        raise CheckpointError(f"load: cannot read '{path}' ({e})") from e
    if magic == b"\x93NUMPY":
        raise CheckpointError(f"load: '{path}' holds a single .npy array, not an .npz checkpoint "
                              "of named arrays")
    if not magic.startswith(b"PK"):                     # every zip archive starts with "PK"
        what = "is empty" if not magic else "is not an .npz checkpoint (not a zip archive)"
        raise CheckpointError(f"load: '{path}' {what}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {name: npz[name] for name in npz.files}
    except Exception as e:     # whatever NumPy or zipfile trip over, the file is at fault
        raise CheckpointError(
            f"load: cannot read checkpoint '{path}': it is truncated or damaged, or holds "
            f"pickled objects ({type(e).__name__}: {e})") from e
    for name, value in state.items():
        if not isinstance(value, np.ndarray):           # np.load gives other zip members as bytes
            raise CheckpointError(f"load: '{path}' is a zip archive but not an .npz checkpoint: "
                                  f"member '{name}' is not a .npy array")
    return state
