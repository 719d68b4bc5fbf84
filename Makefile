# Two commands on a fresh clone: `make demo` (whole pipeline on generated demo data)
# and `make test` (the test suite). Both create .venv and install the project first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: install demo test lint bench bench-compare bench-long bench-fanout clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)
	@echo "Report: results/summary/report.html"
	@echo "MLflow: $(BIN)/mlflow ui --backend-store-uri sqlite:///results/mlflow.db"

test: install
	$(BIN)/ruff check dreem workflow tests bench
	$(BIN)/pytest -q

# Benchmarks (bench/README.md). Timings are valid only on a quiet machine (check `uptime`).
BENCH_TMP ?= /tmp/dreem_bench
REF_VENV  ?= /work/venvs/ref

bench: install
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/make_demo_shards.py $(BENCH_TMP)/shards
	$(BIN)/python bench/bench_train.py $(BENCH_TMP)/shards --epochs 2
	$(BIN)/python bench/bench_track.py

# Side by side with the reference (dreem-track 0.5.1 in REF_VENV; skipped without it).
bench-compare: install
	$(BIN)/python bench/compare_reference.py --ref-venv $(REF_VENV)

# A generated 30-minute video (54,000 frames): extraction and tracking time and peak memory.
bench-long: install
	$(BIN)/python bench/bench_long.py --work $(BENCH_TMP)/long

# Many videos: one extract/track job per video (snakemake plan + a measured run).
bench-fanout: install
	$(BIN)/python bench/bench_fanout.py --work $(BENCH_TMP)/fanout

clean:
	rm -rf results demo_data .snakemake
