"""Text from stores and imported files, made safe to show on a terminal or a page.

Run, model and benchmark names can come from files assay did not write (HELM today, Inspect and
lm-eval logs next). A name carrying ESC could rewrite the terminal (colours, the title, hidden
text), BEL rings it, and bidi overrides (U+202E) make text read differently from what it is.
`visible` spells every such character out as an escape (`\\x1b`, `\\u202e`), so what is shown
is what is stored, and ordinary text, accents and CJK included, passes through unchanged.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# Control characters (C0, DEL, C1), format characters (bidi controls, zero-width joiners, BOM),
# line and paragraph separators, and lone surrogates.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_KEEP_LAYOUT = frozenset("\n\t")


_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES


def visible(text: Any, *, keep_layout: bool = False) -> str:
    """`text` with every control, format or separator character spelled out as an escape.

    `keep_layout` leaves newlines and tabs as they are (for multi-line text such as model
    output shown in a block); names never keep them, so a table cell stays one line.
    """
    shown = str(text)
    if shown.isprintable():  # the common case: nothing to do
        return shown
    return "".join(
        _escape(ch) if _hidden(ch) and not (keep_layout and ch in _KEEP_LAYOUT) else ch
        for ch in shown
    )


def json_visible(text: str) -> str:
    """JSON text with hidden characters written as `\\uXXXX` escapes: the same JSON value.

    JSON encoders escape C0 controls already; C1 controls, bidi overrides and other format
    characters pass through raw, so a JSON document printed to a terminal could still act on it.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch not in _KEEP_LAYOUT and ch != "\r" and _hidden(ch):
            code = ord(ch)
            if code > 0xFFFF:  # JSON spells astral characters as a surrogate pair
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
