# `make demo` sets up .venv and runs the shop demo; `make test` sets up .venv and runs the checks.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: demo test lint recommend-quality search-quality

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# torch's CPU build first: a plain `torch` requirement would pull several GB of CUDA packages
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[local,web,postgres,dev]"
	touch $(STAMP)

# the peers and libraries the benchmarks measure against: not needed to run or test livevec
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/livevec demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

# similar() against the Luma merchandisers' links, and replayed shopper sessions (benchmarks/QUALITY.md)
recommend-quality: $(STAMP)
	$(BIN)/python benchmarks/recommend_quality.py

# vector, full-text and hybrid search against human relevance judgments (benchmarks/QUALITY.md)
search-quality: $(BENCH_STAMP)
	$(BIN)/python benchmarks/quality.py
