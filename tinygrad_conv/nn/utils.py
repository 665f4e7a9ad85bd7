"""Helpers around modules: call a module with some parameters swapped for other tensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tensor import Tensor
from .module import Module

__all__ = ["functional_call"]


def functional_call(module: Module, tensors: Mapping[str, Tensor], *args: Any, **kwargs: Any) -> Any:
    """Call ``module(*args, **kwargs)`` with some parameters temporarily replaced.

    tensors: dotted parameter name -> Tensor to use instead (e.g. float64 copies for gradcheck).
    The module's own parameters are restored afterwards, even on error.
    """
    swaps: list[tuple[dict, str, Any]] = []
    try:
        for name, t in tensors.items():
            path, _, leaf = name.rpartition(".")
            owner = module.get_submodule(path)
            if leaf not in owner._parameters:
                raise KeyError(f"functional_call: {type(module).__name__} has no parameter {name!r}")
            swaps.append((owner._parameters, leaf, owner._parameters[leaf]))
            owner._parameters[leaf] = t
        return module(*args, **kwargs)
    finally:
        for reg, leaf, old in reversed(swaps):
            reg[leaf] = old
