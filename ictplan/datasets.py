"""The embedded Cà Mau sample study and its planned 2030 variant, by name (for notebooks,
tests and doctests).

>>> from ictplan import datasets
>>> datasets.camau().name
'Cà Mau — embedded sample'
>>> datasets.names()
['camau', 'camau_2030']
"""

from __future__ import annotations

from pathlib import Path

from ._errors import MissingFileError
from .study import Study, load

__all__ = ["data_dir", "get_path", "names", "camau", "camau_2030"]

_NAMES = {"camau": "camau", "camau_2030": "camau_2030"}


def data_dir() -> Path:
    """The project's ``data/`` folder (the package is installed in editable mode)."""
    return Path(__file__).resolve().parents[1] / "data"


def names() -> list[str]:
    """The sample studies' names."""
    return list(_NAMES)


def get_path(name: str) -> Path:
    """Folder of a sample study by name (``"camau"``, ``"camau_2030"``)."""
    if name not in _NAMES:
        raise MissingFileError(f"no sample named {name!r}; available: {', '.join(_NAMES)}.")
    path = data_dir() / _NAMES[name]
    if not (path / "study.toml").exists():
        raise MissingFileError(
            f"the sample {name!r} is not at {path}. ictplan's samples live in the repository's data/ folder: "
            "install from a clone with `pip install -e .` (or `make demo`)."
        )
    return path


def camau() -> Study:
    """The embedded Cà Mau sample study (real communes and census; synthetic infrastructure)."""
    return load(get_path("camau"))


def camau_2030() -> Study:
    """The sample's planned 2030 variant (every 4G site also carries 5G; SYNTHETIC): the
    what-if of ``ictplan scorecard data/camau --variant data/camau_2030``."""
    return load(get_path("camau_2030"))
