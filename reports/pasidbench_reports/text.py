"""Plain text for fixed-width output (the summary, the mail table, the
mmtests rows, plot labels): text from result files made safe, clipped and
wrapped to 72 columns."""

from __future__ import annotations

import textwrap
import unicodedata

WIDTH = 72


def clean(text) -> str:
    """Text from result files, made safe for a fixed-width mail body:
    control characters (escape sequences, tabs, newlines) become spaces or
    '?', so that a hostile or broken string cannot reflow the table."""
    out = []
    for ch in str(text):
        if ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def wrap(text: str, indent: str = "", subsequent: str | None = None) -> list:
    if subsequent is None:
        subsequent = indent
    return textwrap.wrap(clean(text), width=WIDTH, initial_indent=indent,
                         subsequent_indent=subsequent,
                         break_on_hyphens=False) or [indent.rstrip()]
