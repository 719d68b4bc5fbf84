# Two commands on a fresh clone: `make demo` (whole pipeline on generated demo data)
# and `make test` (the test suite). Both create .venv and install the project first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: install demo test lint bench clean

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

bench: install
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_track.py

clean:
	rm -rf results demo_data .snakemake
