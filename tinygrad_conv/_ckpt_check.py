"""Checkpoint validation for ``load_checkpoint``: every member judged from its header before any data.

The schema (see ``tinygrad_conv.checkpoint``) fixes which keys may exist and what each may hold;
with the model at hand, its parameter shapes bound every weight and optimizer buffer exactly, and
without it a total byte budget does. Only then are the members read, each exactly as large as
declared, and their values checked (integer counters in range, finite weights, typed config).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._npz import NpzError, NpzMember, NpzReader, _one_line, _short

__all__ = ["CheckpointError", "read_checkpoint_arrays", "read_model_name", "MAX_CHECKPOINT_BYTES"]

#: default ``max_bytes`` of ``load_checkpoint``: all declared array data together
#: (a seed CNN checkpoint holds ~0.1 MB)
MAX_CHECKPOINT_BYTES = 1 << 30
_MAX_STR = 1 << 16  # characters in one string member (rng states are ~200)
_INT = "iu"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_LIMITS = {"epoch": (0, 2**31 - 1), "seed": (0, 2**64 - 1), "batch_size": (1, 2**31 - 1),
           "optim.step": (0, 2**63 - 1)}


class CheckpointError(ValueError):
    """A checkpoint that is malformed, hostile or does not fit the model; the message is one line
    naming the file and the key at fault."""


class _Bad(Exception):
    """Internal: a problem with one key; load_checkpoint adds the file name."""


def _kind(m: NpzMember) -> str:
    return m.dtype.kind


def _want(m: NpzMember, kinds: str, what: str, shape: tuple[int, ...] | None = None) -> None:
    if _kind(m) not in kinds:
        raise _Bad(f"key {_short(m.key)}: dtype {m.dtype} is not {what}")
    if shape is not None and m.shape != shape:
        raise _Bad(f"key {_short(m.key)}: shape {m.shape}, expected {shape}")
    if _kind(m) == "U" and m.dtype.itemsize // 4 > _MAX_STR:
        raise _Bad(f"key {_short(m.key)}: string of {m.dtype.itemsize // 4} characters, over {_MAX_STR}")


def _plan(members: Mapping[str, NpzMember], metrics: Sequence[str],
          model_shapes: dict[str, np.ndarray] | None, param_shapes: list[tuple[int, ...]] | None) -> None:
    """Check every member's key, dtype and shape from its header alone; raise _Bad at the first fault."""
    for key, m in members.items():
        head, _, rest = key.partition(".")
        if key in _LIMITS and key != "optim.step":
            _want(m, _INT, "an integer", ())
        elif key == "format":
            _want(m, "U", "a string", ())
        elif head == "config" and rest:
            _want(m, "Uiufb", "a plain string, number or bool", ())
        elif head == "rng" and rest:
            _want(m, "U", "a string (a generator state as JSON)", ())
        elif head == "history" and rest in metrics:
            _want(m, "fiu", "a number")
            if len(m.shape) != 1:
                raise _Bad(f"key {_short(key)}: shape {m.shape}, expected one value per epoch")
        elif head == "model" and rest:
            _plan_weight(m, rest, model_shapes)
        elif head == "optim" and rest:
            _plan_optim(m, rest, param_shapes)
        else:
            raise _Bad(f"unknown key {_short(key)} (a checkpoint holds format, epoch, seed, batch_size, "
                       "config.*, model.*, optim.*, history.<metric> and rng.*)")
    if model_shapes is not None:
        missing = [k for k in model_shapes if f"model.{k}" not in members]
        if missing:
            raise _Bad(f"key {_short('model.' + missing[0])} missing: the model has it, the checkpoint "
                       "does not"
                       + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""))


def _plan_weight(m: NpzMember, name: str, model_shapes: dict[str, np.ndarray] | None) -> None:
    if model_shapes is None:
        # integer buffers (BatchNorm's num_batches_tracked) are scalars; weights are floats
        _want(m, "f" + (_INT if m.shape == () else ""), "a float")
        return
    if name not in model_shapes:
        raise _Bad(f"unknown key {_short(m.key)}: the model has no such parameter or buffer")
    own = model_shapes[name]
    _want(m, _INT if own.dtype.kind in _INT else "f", "an integer" if own.dtype.kind in _INT else "a float",
          own.shape)


def _plan_optim(m: NpzMember, rest: str, param_shapes: list[tuple[int, ...]] | None) -> None:
    parts = rest.split(".")
    if rest == "step":
        _want(m, _INT, "an integer", ())
    elif len(parts) == 2 and parts[0] == "param_groups":
        _want(m, "fiub", "a number")
        if len(m.shape) > 1 or math.prod(m.shape) > 16:
            raise _Bad(f"key {_short(m.key)}: shape {m.shape}, expected a number or a few (betas)")
    elif len(parts) == 3 and parts[0] == "state" and parts[1].isdigit() and len(parts[1]) < 8:
        if parts[2] == "step":
            _want(m, _INT, "an integer", ())
        elif param_shapes is None:
            _want(m, "f", "a float")
        elif int(parts[1]) >= len(param_shapes):
            raise _Bad(f"key {_short(m.key)}: parameter index {parts[1]} out of range "
                       f"(the model has {len(param_shapes)} parameters)")
        else:
            _want(m, "f", "a float", param_shapes[int(parts[1])])
    else:
        raise _Bad(f"unknown key {_short(m.key)} (optimizer keys are step, param_groups.<name>, "
                   "state.<index>.<buffer>)")


def _check_value(key: str, a: np.ndarray, allow_nonfinite: bool, config_types: Mapping[str, type] | None,
                 epochs: int | None) -> None:
    """Checks that need the data: ranges, finiteness, config types, history length."""
    head, _, rest = key.partition(".")
    if key in _LIMITS or (head == "optim" and key.endswith(".step")):
        lo, hi = _LIMITS.get(key, _LIMITS["optim.step"])
        if not lo <= int(a) <= hi:
            raise _Bad(f"key {_short(key)}: {int(a)} is out of range [{lo}, {hi}]")
    elif head == "history" and epochs is not None and a.shape != (epochs,):
        raise _Bad(f"key {_short(key)}: {a.shape[0]} values for {epochs} epochs")
    elif key == "history.epoch" and not (np.isfinite(a).all() and (a == np.arange(1, len(a) + 1)).all()):
        raise _Bad(f"key {_short(key)}: {_short(str(a.tolist()))}, expected 1, 2, ... one per epoch")
    elif head == "rng":
        _check_rng_state(key, str(a))
    elif head == "config":
        _check_config(key, a.item(), rest, allow_nonfinite, config_types)
    elif (not allow_nonfinite and head in ("model", "optim") and a.dtype.kind == "f"
          and not np.isfinite(a).all()):
        bad = np.flatnonzero(~np.isfinite(a.reshape(-1)))
        raise _Bad(f"key {_short(key)}: {bad.size} non-finite values (first {a.reshape(-1)[bad[0]]} at flat "
                   f"index {bad[0]}); pass allow_nonfinite=True to load it anyway")


def _check_rng_state(key: str, text: str) -> None:
    """The JSON of ``bit_generator.state``: parsed and tried on a fresh generator of its kind, so a resume
    cannot fail on it after the model is already loaded."""
    try:
        st = json.loads(text)
        kind = st["bit_generator"] if isinstance(st, dict) else None
        if kind not in _BIT_GENERATORS:
            raise ValueError(f"bit_generator {_short(str(kind))}, known: {', '.join(_BIT_GENERATORS)}")
        getattr(np.random, kind)().state = st
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as e:
        raise _Bad(f"key {_short(key)}: not a generator state ({_one_line(e)})") from None


def _check_config(key: str, v: Any, field: str, allow_nonfinite: bool,
                  config_types: Mapping[str, type] | None) -> None:
    if isinstance(v, float) and not allow_nonfinite and not math.isfinite(v):
        raise _Bad(f"key {_short(key)}: {v} is not finite")
    want = None if config_types is None else config_types.get(field)
    if want is None:  # a field this version does not know stays loadable (TrainConfig.from_dict skips it)
        return
    ok = {bool: isinstance(v, bool), int: isinstance(v, int) and not isinstance(v, bool),
          float: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: isinstance(v, str)}.get(want, isinstance(v, want))
    if not ok:
        raise _Bad(f"key {_short(key)}: {type(v).__name__} {_short(str(v))}, expected {want.__name__}")


def read_checkpoint_arrays(path: Any, *, fmt: str, metrics: Sequence[str], model: Any = None,
                           allow_nonfinite: bool = False, config_types: Mapping[str, type] | None = None,
                           max_bytes: int = MAX_CHECKPOINT_BYTES) -> dict[str, np.ndarray]:
    """key -> array of a checkpoint at ``path`` after the checks above; raises CheckpointError (one line)."""
    try:
        with NpzReader(path) as r:
            return _read_all(r, fmt, metrics, model, allow_nonfinite, config_types, max_bytes)
    except (NpzError, _Bad) as e:
        raise CheckpointError(f"load_checkpoint: {path}: {e}") from None


def read_model_name(path: Any) -> str | None:
    """``config.model`` of a checkpoint, read alone (a short scalar string), or None when the file
    has none or cannot be read: ``read_checkpoint_arrays`` then says what is wrong with it. Lets a
    caller build the model first and check every array against it before reading."""
    try:
        with NpzReader(path) as r:
            m = r.members.get("config.model")
            if m is None or m.dtype.kind != "U" or m.shape != () or m.nbytes > 1024:
                return None
            return str(r.read("config.model"))
    except (NpzError, OSError):
        return None


def _read_all(r: NpzReader, fmt: str, metrics: Sequence[str], model: Any, allow_nonfinite: bool,
              config_types: Mapping[str, type] | None, max_bytes: int) -> dict[str, np.ndarray]:
    ms = r.members
    if "format" not in ms:
        raise _Bad(f"format 'missing', expected {fmt!r}")
    _want(ms["format"], "U", "a string", ())
    found = str(r.read("format"))
    if found != fmt:
        raise _Bad(f"format {_short(found)}, expected {fmt!r}")
    # 1. headers only: keys, dtypes, shapes (exact with the model), total size
    shapes = None if model is None else {k: np.asarray(v) for k, v in model.state_dict().items()}
    params = None if model is None else [tuple(p.shape) for p in model.parameters()]
    _plan(ms, metrics, shapes, params)
    total = sum(m.nbytes for m in ms.values())
    if total > max_bytes:
        big = max(ms.values(), key=lambda m: m.nbytes)
        raise _Bad(f"declares {total} bytes of arrays, over the limit of {max_bytes} (max_bytes; "
                   f"largest: key {_short(big.key)}, shape {big.shape} of {big.dtype})")
    missing = [k for k in ("epoch", "seed", "batch_size") if k not in ms]
    missing += [f"history.{m}" for m in metrics if f"history.{m}" not in ms]
    if missing:
        raise _Bad(f"key {missing[0]!r} missing")
    # 2. data, counters first (history lengths are checked against epoch)
    out: dict[str, np.ndarray] = {}
    for k in ("epoch", "seed", "batch_size"):
        out[k] = r.read(k)
        _check_value(k, out[k], allow_nonfinite, config_types, None)
    epochs = int(out["epoch"])
    for k in ms:
        if k not in out:
            out[k] = r.read(k)
            _check_value(k, out[k], allow_nonfinite, config_types, epochs)
    return out
