"""scripts/run_notebooks.py (``make notebooks``): each notebook runs in a fresh kernel, its executed
copy with outputs goes to --out, and the committed notebook is left without outputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra is not installed (pip install -e '.[notebooks]')")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_notebooks.py"


@pytest.fixture(scope="module")
def rn():
    spec = importlib.util.spec_from_file_location("run_notebooks", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = mod
    spec.loader.exec_module(mod)
    return mod


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, path)
    return path


def test_executed_copies_with_outputs_and_clean_sources(rn, tmp_path, capsys):
    src = tmp_path / "nb"
    src.mkdir()
    good = _notebook(src / "01_ok.ipynb", "x = 6 * 7", "print(x)")
    bad = _notebook(src / "02_fails.ipynb", "y = 1", "raise ValueError('boom')", "print('never')")
    before = {p.name: p.read_bytes() for p in (good, bad)}
    out = tmp_path / "out" / "notebooks"
    assert rn.main([str(src), "--out", str(out), "--timeout", "60"]) == 1  # one failed
    printed = capsys.readouterr().out
    assert "1 passed, 1 failed" in printed.splitlines()[-1]
    assert {p.name: p.read_bytes() for p in (good, bad)} == before  # the committed notebooks are not touched
    ran = nbformat.read(out / "01_ok.ipynb", as_version=4)
    assert [c.execution_count for c in ran.cells] == [1, 2]
    assert ran.cells[1].outputs[0]["text"] == "42\n"
    failed = nbformat.read(out / "02_fails.ipynb", as_version=4)  # written up to the failing cell
    assert failed.cells[1].outputs[0]["ename"] == "ValueError" and failed.cells[2].execution_count is None


def test_a_notebook_committed_with_outputs_fails(rn, tmp_path):
    src = tmp_path / "nb"
    src.mkdir()
    path = _notebook(src / "03.ipynb", "1 + 1")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].execution_count = 1
    nbformat.write(nb, path)
    ok, _, msg = rn.run(path, timeout_s=60, out=tmp_path / "out")
    assert not ok and "committed with outputs" in msg and not (tmp_path / "out").exists()
    with pytest.raises(SystemExit, match="must not be the notebooks' own folder"):
        rn.write_copy(nb, path, source=path)
