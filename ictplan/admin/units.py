"""Unit registries: the GSO lists of communes before and after the 1 July 2025 reform,
and a look-up by name or code that never guesses.

Two unit systems (``units=``):

* ``"old"`` — the commune-level units of the GSO list of 1 May 2024 (the 2019 census units,
  the units of the 2021–2030 plan): 101 in Cà Mau, 64 in Bạc Liêu, each with its district.
* ``"new"`` — the 64 commune-level units of the new Cà Mau province (Cà Mau + Bạc Liêu) since
  1 July 2025, with no district level; each knows the old units it was formed from.

The files are in ``data/admin/`` (see its README for sources and attribution).

>>> lookup("Xa Khanh Hoa", units="old").code
'32047'
>>> lookup("Khánh Hòa", units="new").name    # an old name of a new unit
'Xã U Minh'
>>> try:
...     lookup("Phường 2", units="old")
... except AmbiguousNameError as e:
...     sorted(u.code for u in e.candidates)
['31813', '32011']
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._errors import AmbiguousNameError, ConfigError, UnitLookupError
from ..names import name_key, nfc

__all__ = ["INTERIM_MERGERS", "UNIT_SYSTEMS", "Unit", "units_table", "lookup", "candidates", "bare_name", "admin_dir"]

UNIT_SYSTEMS = ("old", "new")
"""``old``: GSO list of 1 May 2024 (101 + 64 communes); ``new``: the 64 units since 1 July 2025."""

# type prefixes (unaccented, lower case) as written in full and abbreviated
_TWO_WORD = {"thi tran": "Thị trấn", "thanh pho": "Thành phố", "thi xa": "Thị xã"}
_ONE_WORD = {"phuong": "Phường", "xa": "Xã", "huyen": "Huyện", "tinh": "Tỉnh", "tt": "Thị trấn",
             "tp": "Thành phố", "tx": "Thị xã", "p": "Phường", "x": "Xã", "h": "Huyện"}
_ATTACHED = re.compile(r"^(p|x|h|tt|tp|tx)\.(.+)$", re.IGNORECASE)
INTERIM_MERGERS: dict[str, str] = {"32011": "32002"}
"""Old units merged into another before the reform: Phường 2 (32011) of Cà Mau city is in the
GSO list of 1 May 2024 but not in that of 1 March 2025, where its name passed to 32002 (the
former Phường 4); the official 2025 mapping starts from the 1 March 2025 list."""

_SPACES = re.compile(r"\s+")


def admin_dir() -> Path:
    """The folder of the unit lists and the official mapping (``data/admin``)."""
    return Path(__file__).resolve().parents[2] / "data" / "admin"


def _plain(text: str) -> str:
    """Unaccented, lower case, single spaces (đ → d)."""
    decomposed = unicodedata.normalize("NFD", str(text))
    s = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("đ", "d").replace("Đ", "D")
    return _SPACES.sub(" ", s.lower()).strip()


def split_prefix(text: str) -> tuple[str | None, str]:
    """``("Xã", "Khánh Hòa")`` from ``"xa  Khanh Hoa"``: the type named by a leading prefix
    (full or abbreviated — ``TT.``, ``P.`` —, with or without diacritics) and the rest;
    ``(None, text)`` without one. A lone word is never a prefix (``"Phường"`` stays a name)."""
    s = _SPACES.sub(" ", nfc(str(text)).strip())
    words = s.split(" ")
    plain = [_plain(w) for w in words]
    if len(words) >= 3 and f"{plain[0]} {plain[1]}" in _TWO_WORD:
        return _TWO_WORD[f"{plain[0]} {plain[1]}"], " ".join(words[2:])
    if len(words) >= 2 and plain[0].rstrip(".") in _ONE_WORD:
        return _ONE_WORD[plain[0].rstrip(".")], " ".join(words[1:])
    m = _ATTACHED.match(words[0])
    if m:
        return _ONE_WORD[_plain(m.group(1))], " ".join([m.group(2), *words[1:]])
    return None, s


def bare_name(name: str) -> str:
    """The name without its type prefix: ``"Phường 2"`` → ``"2"``, ``"Xã Tân Thành"`` → ``"Tân Thành"``."""
    return split_prefix(name)[1]


@dataclass(frozen=True)
class Unit:
    """One commune-level unit: GSO code, full name (with its type), type, province and
    district (empty for new units), its system (``"old"``/``"new"``) and, for a new unit,
    the old units it was formed from (codes)."""

    code: str
    name: str
    kind: str
    province_code: str
    province_name: str
    district_code: str
    district_name: str
    units: str
    formed_from: tuple[str, ...] = ()

    def label(self) -> str:
        where = ", ".join(x for x in (self.district_name, self.province_name) if x)
        return f"{self.name} ({self.code}, {where})"


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ConfigError(f"the unit list {path} is missing; rebuild data/admin with "
                          "`python scripts/build_admin_data.py` (needs ../shared/data/camau).")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@functools.lru_cache(maxsize=4)
def units_table(units: str = "old") -> pd.DataFrame:
    """The unit list of a system as a table: ``code, name, kind, province_code,
    province_name, district_code, district_name, formed_from`` (';'-joined old codes, new
    units only) and ``lon, lat`` (a representative point, EPSG:4326)."""
    if units not in UNIT_SYSTEMS:
        raise ConfigError(f"unknown unit system {units!r}; use one of {', '.join(UNIT_SYSTEMS)}.")
    d = admin_dir()
    if units == "old":
        g = _read_csv(d / "gso_units_20240501.csv")
        pts = pd.concat([_read_csv(d / "commune_points_2019.csv"), _read_csv(d / "commune_points_2019_baclieu.csv")])
        t = pd.DataFrame({"code": g["ma_xa"], "name": g["ten_xa"], "kind": g["loai_xa"], "province_code": g["ma_tinh"],
                          "province_name": g["ten_tinh"], "district_code": g["ma_huyen"], "district_name": g["ten_huyen"],
                          "formed_from": ""})
    else:
        pts = _read_csv(d / "commune_points_2025.csv")
        t = pd.DataFrame({"code": pts["ma_xa"], "name": pts["ten_xa"], "kind": pts["loai_xa"],
                          "province_code": pts["ma_tinh"], "province_name": "Tỉnh Cà Mau", "district_code": "",
                          "district_name": "", "formed_from": pts["old_ma_xa"]})
        for code, into in INTERIM_MERGERS.items():  # a unit merged before the reform went with its host
            host = t["formed_from"].map(lambda f, into=into: into in f.split(";"))
            t.loc[host, "formed_from"] = t.loc[host, "formed_from"] + ";" + code
    xy = pts.set_index("ma_xa")[["lon", "lat"]].astype(float)
    t = t.join(xy, on="code")
    for c in ("name", "kind", "province_name", "district_name"):
        t[c] = t[c].map(nfc)
    return t.reset_index(drop=True)


def _unit(row: pd.Series, units: str) -> Unit:
    ff = tuple(x for x in str(row["formed_from"]).split(";") if x)
    return Unit(str(row["code"]), row["name"], row["kind"], str(row["province_code"]), row["province_name"],
                str(row["district_code"]), row["district_name"], units, ff)


def _exact(text: str) -> str:
    """A key that keeps diacritics: NFC, case-folded, no spaces."""
    return _SPACES.sub("", nfc(str(text)).casefold())


@functools.lru_cache(maxsize=8)
def _keys(units: str, exact: bool) -> pd.DataFrame:
    t = units_table(units)
    key = _exact if exact else name_key
    return pd.DataFrame({"full": t["name"].map(key), "bare": t["name"].map(lambda n: key(bare_name(n))),
                         "kind": t["kind"]})


def _area_filter(t: pd.DataFrame, column: str, value: str | None) -> pd.Series:
    if value is None:
        return pd.Series(True, index=t.index)
    v = str(value).strip()
    if v.isdigit():
        return t[f"{column}_code"].astype(str) == v
    key = name_key(bare_name(v))
    return t[f"{column}_name"].map(lambda n: name_key(bare_name(n))) == key


def _by_name(query: str, units: str, exact: bool) -> pd.Series:
    k = _keys(units, exact)
    key = _exact if exact else name_key
    kind, rest = split_prefix(query)
    whole = key(query)
    hit = (k["full"] == whole) | (k["bare"] == whole)
    if kind is not None:
        hit |= (k["bare"] == key(rest)) & (k["kind"] == kind)
    return hit


def _former(query: str, sel: pd.Series, exact: bool) -> pd.Series:
    """New units one of whose old units carries the name ``query``."""
    old = units_table("old")
    codes = set(old.loc[_by_name(query, "old", exact), "code"])
    t = units_table("new")
    return sel & t["formed_from"].map(lambda f: bool(codes & set(f.split(";"))))


def _name_hits(q: str, units: str, sel: pd.Series) -> pd.Series:
    """Tiers, first that fits wins: the name as written (diacritics kept) — for new units
    first a current, then a former name —, then the same without diacritics."""
    tiers = [(False, True), (True, True), (False, False), (True, False)]
    if units != "new":
        tiers = [t for t in tiers if not t[0]]
    hit = sel & False
    for former, exact in tiers:
        hit = _former(q, sel, exact) if former else sel & _by_name(q, units, exact)
        if hit.any():
            break
    return hit


def candidates(query: str | int, /, *, units: str = "old", province: str | None = None,
               district: str | None = None) -> list[Unit]:
    """Every unit of ``units`` that ``query`` may name (a GSO code — an int, or 4–5 digits —, or a name with or
    without diacritics, spacing and type prefix; for new units also a former name, used only
    when no current name fits; a match keeping the query's diacritics wins over one
    ignoring them), narrowed by ``province``/``district`` (name or code)."""
    t = units_table(units)
    sel = _area_filter(t, "province", province) & _area_filter(t, "district", district)
    q = str(query).strip()
    if isinstance(query, int) or (q.isdigit() and len(q) >= 4):  # "2" is a ward's name, "32011" a code
        hit = sel & (t["code"] == q.zfill(5))
    else:
        hit = _name_hits(q, units, sel)
    return [_unit(r, units) for _, r in t[hit].iterrows()]


def lookup(query: str | int, /, *, units: str = "old", province: str | None = None,
           district: str | None = None) -> Unit:
    """The one unit ``query`` names (see :func:`candidates`).

    Raises
    ------
    AmbiguousNameError
        Several units fit; ``.candidates`` holds them all and the message lists them.
    UnitLookupError
        None fits; ``.candidates`` holds the closest names.
    """
    found = candidates(query, units=units, province=province, district=district)
    if len(found) == 1:
        return found[0]
    if found:
        raise AmbiguousNameError(
            f"{query!r} names {len(found)} {units} units: " + "; ".join(u.label() for u in found)
            + ". Give the type (Xã/Phường/Thị trấn), the province or district, or the GSO code.", tuple(found))
    t = units_table(units)
    close = difflib.get_close_matches(_plain(str(query)), [_plain(n) for n in t["name"]], n=5, cutoff=0.6)
    near = tuple(_unit(r, units) for _, r in t[t["name"].map(_plain).isin(close)].iterrows())
    hint = (" Did you mean: " + "; ".join(u.label() for u in near) + "?") if near else ""
    where = "".join(f", {k} {v!r}" for k, v in (("province", province), ("district", district)) if v)
    raise UnitLookupError(f"no {units} unit named {query!r}{where}.{hint}", near)
