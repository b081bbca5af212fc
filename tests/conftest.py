"""Shared test fixtures: paths to the sample study and the real data in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# No example database in the repository: tests stay hermetic (nothing written into the tree).
settings.register_profile("ictplan", database=None)
settings.load_profile("ictplan")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "camau"
SHARED_DATA = REPO.parent / "shared" / "data" / "camau"


def pytest_collection_modifyitems(config, items):
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real data not found at {SHARED_DATA} (only on developer/CI machines)")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One ``ictplan demo`` of the sample in Vietnamese (about a minute), shared by every test
    that reads what the demo writes: ``(output folder, what it printed)``."""
    import contextlib
    import io
    import warnings

    from ictplan.cli import main

    if not (SAMPLE / "camau.gpkg").exists():
        pytest.skip("the sample study (data/camau) is not built")
    out = tmp_path_factory.mktemp("demo_run") / "out"
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
        warnings.simplefilter("ignore")
        code = main(["demo", str(SAMPLE), "--out", str(out), "--lang", "vi"])
    assert code == 0, buf.getvalue()[-2000:]
    return out, buf.getvalue()


@pytest.fixture(scope="session")
def bottom(tmp_path_factory):
    """Three communes on a population raster twice their size, with profiles, and its coverage
    result: computed once for the map and the report tests."""
    import warnings

    from ictplan import coverage
    from ictplan import study as _study

    from ._mapstudy import bottom_communes, variant

    s = _study.load(variant(tmp_path_factory.mktemp("bottom") / "st", communes=bottom_communes(), profiles=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cov = coverage.run(s)
    return s, cov
