"""Module and Parameter: the base classes layers and models are built from (Sequential: containers.py).

A Module registers the Parameters, buffers (plain ndarrays such as BatchNorm's running stats) and
sub-Modules assigned to its attributes, in insertion order. Calling a module runs ``forward``
inside ``name_scope(<attribute name>)``, so every tape node records the module path that made it
(``node.scope == ('features', '0')``); the root module (one called while no module is running)
pushes no scope component. Parameter ``.name`` is set to the full dotted name
(``features.0.weight``) by the root's ``named_parameters()`` and by the root's first call.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from typing import Any, NamedTuple

import numpy as np

from ..autograd.tape import name_scope
from ..tensor import Tensor
from .state_io import as_array, check_state_keys, read_state_dict

__all__ = [
    "Parameter", "Module", "RemovableHandle", "IncompatibleKeys", "module_path_map",
]


class Parameter(Tensor):
    """A leaf Tensor that a Module registers and optimizers update (``requires_grad=True``).

    The array is wrapped without copying; its dtype is kept (layers create float32 ones).
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class _Calls:
    depth = 0  # modules currently running; 0 means the next call is a root call
    version = 0  # bumped on every registration so roots know when to rename their parameters


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook (idempotent)."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Callable]):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models (PyTorch-shaped).

    Subclasses call ``super().__init__()`` first, assign Parameters / Modules / buffers as
    attributes and implement ``forward``. ``training`` is True until ``eval()``.
    """

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_name"] = None  # attribute name under which a parent registered this module
        d["_named_version"] = -1
        d["training"] = True

    # ---- registration ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"{type(self).__name__}: assign {name!r} after calling super().__init__() in __init__"
                )
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
            _Calls.version += 1
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
            value.__dict__["_name"] = name
            _Calls.version += 1
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter {name!r} "
                    "(expected a Parameter or None)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to submodule {name!r} "
                    "(expected a Module or None)"
                )
            modules[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else np.asarray(value)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            self.__dict__[key].pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            reg = d.get(key)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d.get(key, {}):
                del d[key][name]
                _Calls.version += 1
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a None placeholder, e.g. a disabled bias) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, not {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param
        _Calls.version += 1

    def register_buffer(self, name: str, array: Any) -> None:
        """Register a non-trainable array (e.g. ``running_mean``) saved in ``state_dict``."""
        if "." in name or not name:
            raise ValueError(f"register_buffer: bad buffer name {name!r}")
        self._forget(name)
        self._buffers[name] = None if array is None else np.asarray(array)
        _Calls.version += 1

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` under ``name`` (same as attribute assignment; any string name)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, not {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module
        if module is not None:
            module.__dict__["_name"] = name
        _Calls.version += 1

    # ---- calling -----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: forward() is not implemented")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        root = _Calls.depth == 0
        if root and self._named_version != _Calls.version:
            for _ in self.named_parameters():  # assigns dotted names (graphs show conv1.weight)
                pass
        _Calls.depth += 1
        try:
            if root:
                out = self.forward(*args, **kwargs)
            else:
                # a ModuleList/ModuleDict is never called itself: its name joins the path here
                box = self.__dict__.get("_box")
                with name_scope(box._name) if box is not None and box._name else nullcontext(), \
                        name_scope(self._name or type(self).__name__):
                    out = self.forward(*args, **kwargs)
            if self._forward_hooks:
                for hook in list(self._forward_hooks.values()):
                    res = hook(self, args, out)
                    if res is not None:
                        out = res
        finally:
            _Calls.depth -= 1
        return out

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return value
        replaces the output. Returns a handle whose ``remove()`` unregisters the hook."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ---- walking -----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules as (attribute name, module), in registration order."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module once, depth first: ('', self), ('features', ...), ('features.0', ...)."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for every parameter once, in registration order.

        Side effect: a root module (one not registered in a parent) sets each parameter's
        ``.name`` to its full dotted name; a submodule only fills in names that are unset.
        """
        is_root = self._name is None and not prefix
        seen: set[int] = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                full = f"{mname}.{pname}" if mname else pname
                if is_root or p.name is None:
                    p.name = full
                yield full, p
        if is_root:
            self.__dict__["_named_version"] = _Calls.version

    def parameters(self) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[np.ndarray]:
        return (b for _, b in self.named_buffers())

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ('' is self)."""
        m: Module = self
        for part in target.split(".") if target else []:
            nxt = m._modules.get(part)
            if nxt is None:
                raise AttributeError(
                    f"get_submodule: {type(m).__name__} has no submodule {part!r} (in {target!r})")
            m = nxt
        return m

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule, then on self (e.g. custom initialisation)."""
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # ---- modes, grads, sizes -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every submodule (Dropout, BatchNorm care)."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def to(self, dtype: Any) -> Module:
        """Convert floating parameters and buffers to ``dtype`` (e.g. float64 for gradcheck).

        Parameter objects are kept (their ``.data`` is replaced), grads are cleared; create the
        optimizer afterwards.
        """
        dt = np.dtype(dtype)
        for p in self.parameters():
            if p.data.dtype.kind == "f":
                p.data = p.data.astype(dt)
                p.grad = None
        for m in self.modules():
            for k, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[k] = b.astype(dt)
        return self

    # ---- state -------------------------------------------------------------------------
    def _state_arrays(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """name -> the live array (parameter data or buffer), PyTorch's order."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for k, p in self._parameters.items():
            if p is not None:
                out[prefix + k] = p.data
        for k, b in self._buffers.items():
            if b is not None:
                out[prefix + k] = b
        for k, m in self.named_children():
            out.update(m._state_arrays(f"{prefix}{k}."))
        return out

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """name -> copy of every parameter and buffer array (PyTorch names and layouts)."""
        return OrderedDict((k, np.array(v, copy=True)) for k, v in self._state_arrays().items())

    def load_state_dict(self, state_dict: Mapping[str, Any] | str | os.PathLike, strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy arrays (ndarrays, Tensors, PyTorch tensors) into the parameters and buffers, in place
        (optimizer references stay valid); a ``.npz`` / ``.safetensors`` path is read first
        (``nn.read_state_dict``). Values take each target's dtype. Shape mismatches always fail;
        with ``strict`` missing and unexpected keys too. The error lists every offending name and
        nothing is written when it is raised.
        """
        if isinstance(state_dict, (str, os.PathLike)):
            state_dict = read_state_dict(state_dict)
        own = self._state_arrays()
        src = {k: as_array(v) for k, v in state_dict.items()}
        missing, unexpected = check_state_keys(own, src, strict, f"load_state_dict: {type(self).__name__}")
        for k, arr in own.items():
            if k in src:
                arr[...] = src[k]
        for p in self.parameters():
            p._bump_version()  # a graph recorded with the old values must not backpropagate
        return IncompatibleKeys(missing, unexpected)

    # ---- graph support -----------------------------------------------------------------
    @property
    def type_name(self) -> str:
        """The class name shown in graphs and reprs."""
        return type(self).__name__

    def scope_types(self) -> dict[tuple[str, ...], tuple[str, int]]:
        """Scope path (as recorded in ``node.scope``) -> (module class name, parameter count,
        including submodules), for this module called as the root."""
        return {path: (m.type_name, m.num_parameters()) for path, m in module_path_map(self).items()}

    # ---- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (layers override it)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        kids = [f"({k}): " + repr(m).replace("\n", "\n  ") for k, m in self.named_children()]
        if not kids:
            return f"{self.type_name}({extra})"
        body = ([extra] if extra else []) + kids
        return f"{self.type_name}(\n  " + "\n  ".join(body) + "\n)"


def module_path_map(root: Module) -> dict[tuple[str, ...], Module]:
    """Scope path tuple (what ``node.scope`` holds when ``root`` is called) -> module.

    ``()`` is the root itself, ``('features', '0')`` its ``features[0]``.
    """
    return {tuple(name.split(".")) if name else (): m for name, m in root.named_modules()}

