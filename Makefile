# ictplan — the two commands a planner needs: `make demo` and `make test`.
# Every target sets up its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STUDY  ?= data/camau
OUT    ?= out

.PHONY: all demo test bench bench-small sample lint screenshot clean coverage fiber sharing scorecard maps report notebooks sensitivity plan

all: demo

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## demo: run the main job on the embedded Cà Mau sample; writes maps and tables to out/
demo: $(VENV)/.installed
	$(PY) -m ictplan demo $(STUDY) --out $(OUT)/demo --overwrite

## test: run the test suite
test: $(VENV)/.installed
	$(PY) -m pytest -q

## bench: time ictplan against the conventional approach; writes out/bench/results.json
bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) scripts/bench.py --out $(OUT)/bench/results.json

bench-small: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) scripts/bench.py --scale small --out $(OUT)/bench/results-small.json

## sample: rebuild data/camau and data/baclieu from ../shared/data (developers only)
sample: $(VENV)/.installed
	$(PY) scripts/build_camau_sample.py
	$(PY) scripts/build_camau_sample.py --province "Bạc Liêu"
	$(PY) scripts/build_landcover.py data/baclieu --coast 105.44,9.06,105.83,9.26 --forest-communes "" \
		--mangrove-districts "" --aquaculture-districts "Huyện Đông Hải,Huyện Hoà Bình,Thị xã Giá Rai"

## lint: ruff (with complexity rules), mypy on the package, module and function sizes
lint: $(VENV)/.installed
	$(PY) -m ruff check ictplan tests scripts
	$(PY) -m mypy
	$(PY) scripts/check_sizes.py ictplan

## screenshot: refresh docs/img/report.png and docs/img/map.png (the README's pictures) from the sample's demo
screenshot: $(VENV)/.installed
	$(PY) scripts/screenshots.py --demo $(OUT)/demo --out docs/img

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis

## one target per job (each writes to out/<job>/); sensitivity: the headline figures vs the assumptions
coverage fiber sharing scorecard report sensitivity: $(VENV)/.installed
	$(PY) -m ictplan $@ $(STUDY) --out $(OUT)/$@ --overwrite

maps: $(VENV)/.installed
	$(PY) -m ictplan map $(STUDY) --out $(OUT)/maps --overwrite

## notebooks: execute every notebook top to bottom on the sample (fresh kernel); the executed copies, with
## their outputs, go to out/notebooks/ (open them with `$(VENV)/bin/jupyter lab out/notebooks`); notebooks/ stays output-free
notebooks: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[notebooks]"
	$(PY) scripts/run_notebooks.py notebooks --out $(OUT)/notebooks

## plan: what to build by 2025 and 2030 (5G to 99 % by 2030, fiber to every hamlet, postal points), with costs,
## checked by re-running the scorecard on the plan; writes out/plan/ (plan.gpkg, CSVs, plan.md, variants/)
plan: $(VENV)/.installed
	$(PY) -m ictplan plan $(STUDY) --target M3=0.99 --year 2030 --out $(OUT)/plan --overwrite
