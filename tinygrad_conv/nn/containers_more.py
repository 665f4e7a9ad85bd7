"""List- and dict-like containers: ModuleList, ModuleDict, ParameterList (PyTorch's behaviour:
they register what they hold, so parameters, state_dict names and graph clusters see it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module, Parameter

__all__ = ["ModuleList", "ModuleDict", "ParameterList"]


def _adopt(box: Module, key: str, module: Module) -> None:
    """Register ``module`` under ``key`` and tell it which container holds it: a list is never
    called, so the child's graph scope gets the container's name from there (blocks.0)."""
    box.add_module(key, module)
    module.__dict__["_box"] = box


class ModuleList(Module):
    """Holds modules in a list, named '0', '1', ...; has no forward (iterate it in yours)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: can only hold Modules, got {type(module).__name__}")
        _adopt(self, str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            sub = ModuleList()
            for k, m in list(self._modules.items())[idx]:
                sub._modules[k] = m  # keep the keys (and each child's scope name), as Sequential
            return sub
        try:
            return mods[idx]
        except IndexError:
            raise IndexError(f"ModuleList: index {idx} out of range for {len(mods)} modules") from None

    def __setitem__(self, idx: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: can only hold Modules, got {type(module).__name__}")
        _adopt(self, list(self._modules)[idx], module)


class ModuleDict(Module):
    """Holds modules by string key (insertion order kept); ``md['enc']``, ``in``, ``items()``."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        items = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in items:
            self[k] = m

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: can only hold Modules, got {type(module).__name__} for {key!r}")
        _adopt(self, str(key), module)

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict: no module {key!r}; keys: {list(self._modules)}") from None

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()


class ParameterList(Module):
    """Holds Parameters in a list, named '0', '1', ... (arrays are wrapped as Parameters)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        for v in values or ():
            self.append(v)

    def append(self, value: Any) -> ParameterList:
        p = value if isinstance(value, Parameter) else Parameter(value)
        self.register_parameter(str(len(self._parameters)), p)
        return self

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __getitem__(self, idx: int) -> Parameter:
        try:
            return list(self._parameters.values())[idx]
        except IndexError:
            raise IndexError(f"ParameterList: index {idx} out of range for {len(self)} parameters") from None
