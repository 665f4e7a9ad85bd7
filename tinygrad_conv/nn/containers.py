"""Containers: ``Sequential``, a Module that runs its children in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .module import Module

__all__ = ["Sequential"]


def _index_modules(box: Module, idx: int | slice, name: str, empty: Callable[[], Module]) -> Any:
    """``box``'s children by position (Sequential, ModuleList): the module at an int, or for a slice
    a fresh ``empty()`` holding the slice's children under their original keys (so each keeps its
    graph scope name); ``name`` labels the IndexError."""
    items = list(box._modules.items())
    if isinstance(idx, slice):
        sub = empty()
        for k, m in items[idx]:
            sub._modules[k] = m
        return sub
    try:
        return items[idx][1]
    except IndexError:
        raise IndexError(f"{name}: index {idx} out of range for {len(items)} modules") from None


class Sequential(Module):
    """Runs its modules in order; children are named '0', '1', ... (or by an OrderedDict's keys).

    ``Sequential(Conv2d(1, 6, 5), ReLU())``; ``seq[0]``, ``len(seq)``, ``iter(seq)``, ``append``.
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for k, m in modules[0].items():
                self.add_module(str(k), m)
        else:
            for i, mod in enumerate(modules):
                if not isinstance(mod, Module):
                    raise TypeError(f"Sequential: argument {i} is a {type(mod).__name__}, not a Module")
                self.add_module(str(i), mod)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: int | slice) -> Any:
        return _index_modules(self, idx, "Sequential", Sequential)
