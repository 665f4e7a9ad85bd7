"""Look of the computation graph: safe HTML-like labels, node styles, gradient colours, legend.

Every piece of user text (tensor names, module names, op attributes) goes through ``esc`` before
it reaches DOT: labels are Graphviz HTML-like labels (``<...>``), so escaping ``& < > " '`` and
replacing control characters is enough to keep quotes, braces, pipes, backslashes and newlines
from breaking the DOT text or injecting markup.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

MAX_TEXT = 80  # longest run of user text put in one label line

# node styles per kind; colours chosen to stay readable in print and with black text
STYLE: dict[str, dict[str, str]] = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef1f5", "color": "#5b6b7f"},
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "#fff1b8", "color": "#a08400"},
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#d4e8ff", "color": "#2f6db5"},
    "constant": {"shape": "box", "style": "dashed,filled", "fillcolor": "#ffffff", "color": "#9a9a9a",
                 "fontcolor": "#6a6a6a", "fontsize": "8"},
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "#e9e1fb", "color": "#6a4fb0"},
    "note": {"shape": "note", "style": "filled", "fillcolor": "#ffe3e3", "color": "#b03030"},
}
ROOT_STYLE = {"peripheries": "2", "penwidth": "2", "color": "#1b7f3b", "fillcolor": "#d7f5dc"}
CLUSTER_FILLS = ("#f8f9fb", "#eef3f8", "#e6eef6", "#dde8f3")

# sequential palette (light -> dark) for log10 gradient norms; white text on the dark end
GRAD_STOPS = ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8")
BAD_FILL = "#e3261b"  # NaN / Inf gradients
NO_GRAD_FILL = "#ffffff"


def esc(text: Any, limit: int = MAX_TEXT) -> str:
    """Text -> safe content for an HTML-like label: escaped, control characters made visible.

    Besides XML escaping, backslashes are doubled: Graphviz expands ``\\N``, ``\\G`` ... inside
    labels (even HTML ones), so a name holding ``\\N`` would otherwise show the node id.
    """
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "\u2026"
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\n":
            out.append("\u21b5")  # visible return symbol
        elif ch == "\t":
            out.append("\u21e5")
        elif _unprintable(o):
            out.append(f"\\x{o:02x}" if o < 256 else f"\\u{o:04x}")  # not allowed in XML
        else:
            out.append(ch)
    return html.escape("".join(out), quote=True).replace("\\", "&#92;&#92;")


def _unprintable(o: int) -> bool:
    """Control characters, lone surrogates and U+FFFE/U+FFFF: not allowed in XML or UTF-8."""
    return o < 32 or 0x7F <= o < 0xA0 or 0xD800 <= o < 0xE000 or o in (0xFFFE, 0xFFFF)


def html_label(lines: list[str], bold_first: bool = False) -> str:
    """Already-escaped lines -> an HTML-like label string ``<line<BR/>line>``."""
    if not lines:
        return "<&nbsp;>"
    parts = list(lines)
    if bold_first:
        parts[0] = f"<B>{parts[0]}</B>"
    return "<" + "<BR/>".join(parts) + ">"


def fmt_shape(shape: tuple[int, ...]) -> str:
    """(2, 3) -> '(2, 3)'; scalars show as '()'."""
    return "(" + ", ".join(str(int(d)) for d in shape) + (",)" if len(shape) == 1 else ")")


def fmt_num(x: float) -> str:
    """Compact, deterministic number text for labels."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.2e}"


def fmt_count(n: int) -> str:
    return f"{n:,}"


def plural(n: int, word: str) -> str:
    """plural(1, 'op') -> '1 op'; plural(12978, 'value') -> '12,978 values'."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def array_norm(a: np.ndarray | None) -> float | None:
    """L2 norm of an array in float64 (None for no array); NaN/Inf propagate."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(np.sum(np.square(a.astype(np.float64)))))


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def palette(t: float) -> str:
    """t in [0, 1] -> colour interpolated along GRAD_STOPS."""
    t = min(max(t, 0.0), 1.0) * (len(GRAD_STOPS) - 1)
    i = min(int(t), len(GRAD_STOPS) - 2)
    f = t - i
    a, b = _hex(GRAD_STOPS[i]), _hex(GRAD_STOPS[i + 1])
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def is_dark(t: float) -> bool:
    return t > 0.7


class GradScale:
    """Maps gradient norms to colours on a log10 scale spanning the finite, positive norms seen."""

    def __init__(self, norms: list[float]) -> None:
        logs = [math.log10(n) for n in norms if n is not None and math.isfinite(n) and n > 0]
        self.lo = min(logs) if logs else 0.0
        self.hi = max(logs) if logs else 0.0

    def t(self, norm: float) -> float:
        if norm <= 0:
            return 0.0
        if self.hi == self.lo:
            return 0.5
        return (math.log10(norm) - self.lo) / (self.hi - self.lo)

    def style(self, norm: float | None) -> dict[str, str]:
        """Node attributes for a tensor whose gradient has this norm (None: no gradient)."""
        if norm is None:
            return {"fillcolor": NO_GRAD_FILL}
        if not math.isfinite(norm):
            return {"fillcolor": BAD_FILL, "fontcolor": "#ffffff", "color": "#8b0000", "penwidth": "2"}
        t = self.t(norm)
        attrs = {"fillcolor": palette(t)}
        if is_dark(t):
            attrs["fontcolor"] = "#ffffff"
        return attrs

    def legend_label(self, steps: int = 5) -> str:
        """An HTML table: colour swatches for log10 |grad| values, plus NaN/Inf and no-grad."""
        cells = []
        for k in range(steps):
            t = k / (steps - 1)
            v = self.lo + (self.hi - self.lo) * t
            text = f'<FONT COLOR="#ffffff">{v:.1f}</FONT>' if is_dark(t) else f"{v:.1f}"
            cells.append(f'<TD BGCOLOR="{palette(t)}">{text}</TD>')
        cells.append(f'<TD BGCOLOR="{BAD_FILL}"><FONT COLOR="#ffffff">NaN/Inf</FONT></TD>')
        cells.append(f'<TD BGCOLOR="{NO_GRAD_FILL}">no .grad</TD>')
        return (
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            f'<TR><TD COLSPAN="{len(cells)}"><B>log10 |grad|</B></TD></TR>'
            f"<TR>{''.join(cells)}</TR></TABLE>>"
        )


def json_safe(value: Any, depth: int = 0) -> Any:
    """Op attributes -> plain JSON data (tuples become lists, odd objects their repr text)."""
    if depth > 8:
        return repr(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else repr(v)
    if isinstance(value, (list, tuple)):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return str(np.dtype(value))
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), depth + 1) if value.size <= 64 else f"array{value.shape}"
    return repr(value)
