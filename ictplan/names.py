"""Vietnamese names: Unicode NFC normalisation and look-ups that match across
diacritics, case and spacing.

>>> name_key("Khánh Bình Tây Bắc") == name_key("KhánhBìnhTâyBắc") == name_key("khanh binh tay bac")
True
>>> name_key("Đầm Dơi")
'damdoi'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import pandas as pd

__all__ = ["nfc", "name_key", "match_name", "normalise_text_columns", "tidy_name_columns"]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC (the composed form QGIS and GSO files use)."""
    return unicodedata.normalize("NFC", text)


def name_key(text: str) -> str:
    """A key for matching names: no diacritics (đ → d), lower case, no spaces or punctuation."""
    decomposed = unicodedata.normalize("NFD", str(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("đ", "d").replace("Đ", "D").lower()
    return _NON_ALNUM.sub("", stripped)


def match_name(query: str, candidates: Iterable[str]) -> list[str]:
    """All candidates whose :func:`name_key` equals the query's (usually zero or one)."""
    key = name_key(query)
    return [c for c in candidates if name_key(c) == key]


def normalise_text_columns(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """NFC-normalise every text column; returns the new frame and how many values changed."""
    out = df.copy()
    changed = 0
    for col in out.columns:
        if col == "geometry" or not (
            pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col])
        ):
            continue
        values = out[col]
        is_str = values.map(lambda v: isinstance(v, str))
        if not is_str.any():
            continue
        normed = values.where(~is_str, values[is_str].map(nfc))
        changed += int((normed[is_str] != values[is_str]).sum())
        out[col] = normed
    return out, changed


def _is_name_column(col: object) -> bool:
    return isinstance(col, str) and (col == "name" or col.endswith("_name"))


def tidy_name_columns(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Names (``name`` and ``*_name`` columns) with each run of spaces as one space and none at
    the ends ("Tạ An Khương  Đông" → "Tạ An Khương Đông"): a report, a map or a QGIS label
    shows them as written; returns the new frame and how many values changed."""
    out = df
    changed = 0
    for col in [c for c in df.columns if _is_name_column(c)]:
        values = df[col]
        is_str = values.map(lambda v: isinstance(v, str))
        if not is_str.any():
            continue
        tidy = values[is_str].map(lambda v: _SPACES.sub(" ", v).strip())
        n = int((tidy != values[is_str]).sum())
        if n:
            out = out.copy() if out is df else out
            new = values.copy()
            new[is_str] = tidy  # other values (None, NaN) as they were
            out[col] = new
            changed += n
    return out, changed
