"""MkDocs hook: replace ``<!-- op-table -->`` in a page with the table of every registered op
(generated from the registry at build time; see tinygrad_conv.registry_check.op_table_markdown)."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- op-table -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from tinygrad_conv.registry_check import op_table_markdown

    return markdown.replace(MARKER, op_table_markdown())
