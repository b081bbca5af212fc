"""The plan's targets as data: :class:`Target`, :class:`Plan`, and the validating loader.

A targets file (``data/targets/camau_2021_2030.toml``) lists every target of the plan:
id, year, the plan's words in Vietnamese and English, the *indicator* that measures it,
threshold, unit, comparison and level. :func:`load_targets` validates it (every problem
at once, each with its line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError
from ..io import read_toml_text
from .indicators import INDICATORS

__all__ = ["STATUSES", "COMPARISONS", "LEVELS", "ZONE_LEVELS", "MEASURES", "Target", "Plan", "parse_targets",
           "load_targets"]

STATUSES = ("met", "not met", "no data", "not applicable")
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": lambda v, t: v >= t - 1e-9,
    ">": lambda v, t: v > t + 1e-9,
    "<=": lambda v, t: v <= t + 1e-9,
    "==": lambda v, t: np.isclose(v, t, rtol=0.0, atol=1e-9),
}
LEVELS = ("province", "district", "commune", "facility")
"""Where a target is judged. ``province``: only the province row gets a status (districts
and communes show their value, status "not applicable"); the others: every zone."""
ZONE_LEVELS = ("province", "district", "commune")
"""The zone levels of a scorecard's rows."""

_TARGET_KEYS = {"year", "text_vi", "text_en", "indicator", "threshold", "unit", "comparison", "level", "theme", "note",
                "measure", "definition"}
MEASURES = ("measurement", "proxy", "reported", "policy")
"""What a target's figure is: ``measurement`` (the plan's quantity, measured from the
geodata), ``proxy`` (a stand-in: ``definition`` names what it stands for), ``reported``
(a statistic read from the indicators table) or ``policy`` (no figure)."""
_REQUIRED = ("year", "text_vi", "text_en", "indicator", "threshold", "unit", "comparison", "level")
_POLICY_OPTIONAL = {"threshold", "unit", "comparison"}
_TOP_KEYS = {"schema_version", "plan", "targets"}
_PLAN_KEYS = {"name", "name_en", "province", "source"}
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Target:
    """One target of the plan (see the module docstring for the fields)."""

    id: str
    year: int
    text_vi: str
    text_en: str
    indicator: str
    threshold: float | None
    unit: str
    comparison: str | None
    level: str
    theme: str = ""
    note: str = ""
    measure: str = ""
    definition: str = ""

    @property
    def is_policy(self) -> bool:
        return self.indicator == "policy"

    @property
    def table_column(self) -> str | None:
        return self.indicator.split(":", 1)[1] if self.indicator.startswith("table:") else None


@dataclass(frozen=True)
class Plan:
    """A plan: its name, province and targets (in file order)."""

    name: str
    province: str
    targets: tuple[Target, ...]
    name_en: str = ""
    source: str = ""

    def __getitem__(self, target_id: str) -> Target:
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(f"no target {target_id!r} in the plan (it has {', '.join(t.id for t in self.targets)}).")

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.targets]


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) -> line number of each ``key = value`` line, and (table, "") -> header line."""
    out: dict[tuple[str, str], int] = {}
    table = ""
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
        if m:
            table = m.group(1).replace('"', "").replace(" ", "")
            out.setdefault((table, ""), i)
            continue
        m = re.match(r'^("?)([A-Za-z0-9_\-]+)\1\s*=', line)
        if m:
            out.setdefault((table, m.group(2)), i)
    return out


class _Problems:
    """The problems found so far, each prefixed with where it is (file, line)."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.lines = _key_lines(text) if text else {}
        self.items: list[str] = []

    def where(self, table: str, key: str = "") -> str:
        ln = self.lines.get((table, key)) or self.lines.get((table, ""))
        return f"{self.source}, line {ln}" if ln else self.source

    def add(self, table: str, key: str, message: str) -> None:
        self.items.append(f"{self.where(table, key)}: {message}")

    def __len__(self) -> int:
        return len(self.items)


def _check_top(data: dict[str, Any], p: _Problems) -> dict[str, Any]:
    """Top-level and ``[plan]`` keys; returns the ``[plan]`` table."""
    for key in data:
        if key not in _TOP_KEYS:
            at = p.where(key) if (key, "") in p.lines else p.where("", key)
            p.items.append(f"{at}: unknown top-level key {key!r}; allowed: {', '.join(sorted(_TOP_KEYS))}.")
    plan_tab = data.get("plan", {}) or {}
    if not isinstance(plan_tab, dict):
        p.items.append(f"{p.source}: [plan] must be a table.")
        plan_tab = {}
    for key in plan_tab:
        if key not in _PLAN_KEYS:
            p.add("plan", key, f"unknown key {key!r} in [plan]; allowed: {', '.join(sorted(_PLAN_KEYS))}.")
    return plan_tab


def _check_fields(tid: str, tab: dict[str, Any], p: _Problems) -> None:
    """Unknown and missing keys, the year and the text fields of one target."""
    tname = f"targets.{tid}"
    for key in tab:
        if key not in _TARGET_KEYS:
            p.add(tname, key, f"unknown key {key!r} in [targets.{tid}]; allowed: {', '.join(sorted(_TARGET_KEYS))}.")
    policy = tab.get("indicator") == "policy"
    missing = [k for k in _REQUIRED if k not in tab and not (policy and k in _POLICY_OPTIONAL)]
    if missing:
        p.add(tname, "", f"[targets.{tid}] is missing {', '.join(missing)}.")
    year = tab.get("year")
    if "year" in tab and (not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100):
        p.add(tname, "year", f"year of {tid} must be a whole year such as 2025 or 2030, got {year!r}.")
    if "measure" in tab and tab["measure"] not in MEASURES:
        p.add(tname, "measure", f"measure of {tid} must be one of {', '.join(MEASURES)}, got {tab['measure']!r}.")
    for key in ("text_vi", "text_en", "unit", "theme", "note", "definition"):
        if key in tab and not isinstance(tab[key], str):
            p.add(tname, key, f"{key} of {tid} must be a string, got {tab[key]!r}.")
    for key in ("text_vi", "text_en"):
        if isinstance(tab.get(key), str) and not tab[key].strip():
            p.add(tname, key, f"{key} of {tid} is empty.")


def _check_indicator(tid: str, tab: dict[str, Any], p: _Problems) -> None:
    """The indicator is registered, ``table:<column>`` or ``policy``, and its unit matches."""
    indicator = tab.get("indicator")
    tname = f"targets.{tid}"
    if indicator is None or indicator == "policy":
        return
    if not isinstance(indicator, str):
        p.add(tname, "indicator", f"indicator of {tid} must be a string, got {indicator!r}.")
    elif indicator.startswith("table:"):
        if not _COL_RE.match(indicator.split(":", 1)[1]):
            p.add(tname, "indicator", f"{indicator!r} of {tid}: the table column must be a plain name such as "
                                      "table:adult_smartphone_pct.")
    elif indicator not in INDICATORS:
        p.add(tname, "indicator", f"unknown indicator {indicator!r} for {tid}; known: "
                                  f"{', '.join(sorted(INDICATORS))}, table:<column> or policy.")
    elif isinstance(tab.get("unit"), str) and INDICATORS[indicator].unit != tab["unit"]:
        p.add(tname, "unit", f"{tid}'s indicator {indicator} measures {INDICATORS[indicator].unit!r}, "
                             f"but the unit says {tab['unit']!r}.")


def _check_values(tid: str, tab: dict[str, Any], p: _Problems) -> None:
    """Threshold, comparison and level of one target."""
    tname = f"targets.{tid}"
    thr = tab.get("threshold")
    if "threshold" in tab and (isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr)):
        p.add(tname, "threshold", f"threshold of {tid} must be a number, got {thr!r}.")
    comp = tab.get("comparison")
    if "comparison" in tab and comp not in COMPARISONS:
        p.add(tname, "comparison", f"comparison of {tid} must be one of "
                                   f"{', '.join(repr(c) for c in COMPARISONS)}, got {comp!r}.")
    level = tab.get("level")
    if "level" in tab and level not in LEVELS:
        p.add(tname, "level", f"level of {tid} must be one of {', '.join(LEVELS)}, got {level!r}.")


def _default_measure(indicator: str) -> str:
    if indicator == "policy":
        return "policy"
    return "reported" if indicator.startswith("table:") else "measurement"


def _target(tid: str, tab: Any, p: _Problems) -> Target | None:
    """One ``[targets.<id>]`` table as a :class:`Target`, or None with its problems recorded."""
    n_before = len(p)
    if not _ID_RE.match(str(tid)):
        p.add(f"targets.{tid}", "", f"target id {tid!r} must start with a letter and hold letters, digits or _.")
    if not isinstance(tab, dict):
        p.add(f"targets.{tid}", "", f"[targets.{tid}] must be a table of fields.")
        return None
    _check_fields(tid, tab, p)
    _check_indicator(tid, tab, p)
    _check_values(tid, tab, p)
    if len(p) != n_before:
        return None
    thr = tab.get("threshold")
    try:
        return Target(id=str(tid), year=int(tab["year"]), text_vi=tab["text_vi"], text_en=tab["text_en"],
                      indicator=tab["indicator"], threshold=None if thr is None else float(thr),
                      unit=tab.get("unit", ""), comparison=tab.get("comparison"), level=tab["level"],
                      theme=tab.get("theme", str(tid)), note=tab.get("note", ""),
                      measure=tab.get("measure", _default_measure(tab["indicator"])),
                      definition=tab.get("definition", ""))
    except (KeyError, TypeError, ValueError):  # already reported above
        return None


def parse_targets(data: dict[str, Any], /, *, source: str = "<dict>", text: str | None = None) -> Plan:
    """Validate already-parsed targets data; see :func:`load_targets`.

    Parameters
    ----------
    data
        The parsed TOML.
    source
        The file name used in messages.
    text
        The file's text, to give line numbers in messages.

    Returns
    -------
    Plan

    Raises
    ------
    ConfigError
        Every problem found, listed at once: unknown keys (with their line), unknown
        indicators, bad comparisons or levels, missing fields, wrong types.
    """
    p = _Problems(source, text)
    plan_tab = _check_top(data, p)
    raw = data.get("targets")
    if not isinstance(raw, dict) or not raw:
        p.items.append(f"{source}: no targets: add tables like [targets.P1] with {', '.join(_REQUIRED)}.")
        raw = {}
    targets = [t for tid, tab in raw.items() if (t := _target(tid, tab, p)) is not None]
    if p.items:
        raise ConfigError(f"{len(p)} problem(s) in the targets file {source}:\n  - " + "\n  - ".join(p.items))
    return Plan(name=plan_tab.get("name", ""), name_en=plan_tab.get("name_en", ""),
                province=plan_tab.get("province", ""), targets=tuple(targets), source=source)


def load_targets(path: str | Path, /) -> Plan:
    """Load and validate a targets file (TOML).

    Parameters
    ----------
    path
        The targets file, e.g. ``data/targets/camau_2021_2030.toml``.

    Returns
    -------
    Plan
        The plan's name, province and targets in file order.

    Raises
    ------
    MissingFileError
        No such file.
    ConfigError
        The file is not UTF-8 TOML, or holds problems: every problem is listed at once
        (unknown key with its line number, unknown indicator, bad comparison or level,
        missing fields, wrong types).
    """
    data, text = read_toml_text(path, "targets")
    return parse_targets(data, source=str(path), text=text)
