"""Numbers as the reader writes them: one function for the report and the map popups.

Vietnamese (TCVN / the usage of Vietnamese official documents) separates thousands with a
dot and decimals with a comma: ``1.194.476 người``, ``19,7 %``. English separates thousands
with a comma and decimals with a dot: ``1,194,476``, ``19.7 %``. Every figure the report
and the map print goes through :func:`number` (or :func:`percent`), so the two never mix.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["number", "percent", "SEPARATORS"]

#: language -> (thousands separator, decimal mark)
SEPARATORS: dict[str, tuple[str, str]] = {"vi": (".", ","), "en": (",", ".")}


def _float(v: Any) -> float | None:
    if v is None or isinstance(v, bool | str):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def number(v: Any, lang: str = "en", *, digits: int | None = None, grouping: bool = True, missing: str = "–") -> str:
    """``v`` in ``lang``'s notation.

    ``digits``: decimals; by default none at or above 100 or for a whole number, else one
    (below 0.05, two significant digits: ``0.012``). ``grouping=False`` leaves the
    thousands unseparated (years, codes). A missing or infinite value is ``missing``.

    >>> number(1194476, "vi"), number(19.66, "vi"), number(1194476.0, "en"), number(19.66, "en")
    ('1.194.476', '19,7', '1,194,476', '19.7')
    """
    x = _float(v)
    if x is None:
        return missing
    if digits is None:
        if abs(x) >= 100 or x.is_integer():
            digits = 0
        elif abs(x) >= 0.05:
            digits = 1
        else:  # a small share or rate: two significant digits, never "0.0"
            digits = max(1, 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{digits}f}" if grouping else f"{x:.{digits}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # -0.0 reads 0.0
    thousands, decimal = SEPARATORS.get(lang, SEPARATORS["en"])
    table: dict[str, str | int | None] = {",": thousands, ".": decimal}
    return text.translate(str.maketrans(table))


def percent(v: Any, lang: str = "en", *, digits: int | None = 1, missing: str = "–") -> str:
    """A share in percent with its sign after a (non-breaking) space: ``19,7 %`` / ``19.7 %``."""
    text = number(v, lang, digits=digits, missing=missing)
    return text if text == missing else f"{text}\u00a0%"
