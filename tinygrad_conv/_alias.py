"""``dim=`` / ``keepdim=`` / ``dims=`` keyword aliases for PyTorch spellings of NumPy-style
arguments (the issue-12 functions use it; a package-wide helper can replace it)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

Fn = TypeVar("Fn", bound=Callable[..., Any])


def renamed(**aliases: str) -> Callable[[Fn], Fn]:
    """``@renamed(dim="axis")``: accept ``dim=`` as another name of ``axis=``; both is a TypeError."""

    def deco(fn: Fn) -> Fn:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for alias, name in aliases.items():
                if alias in kwargs:
                    value = kwargs.pop(alias)
                    if name in kwargs or name in sig.bind_partial(*args).arguments:
                        raise TypeError(f"{fn.__name__}: got both {name}= and its alias {alias}=")
                    kwargs[name] = value
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
