PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

# The embedding model is exported from packages on the index: torch at exactly this version first (the CPU
# build; a bare `torch` resolves to a CUDA build of several GB) and onnx at the version whose export
# matcher/photo/embed.py checks byte for byte.
TORCH := torch==2.13.0
ONNX := onnx==1.23.2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,model]' $(TORCH) $(ONNX)
	$(BIN)/lootwatch model export
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lootwatch demo --out demo-output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/index.py

clean:
	rm -rf demo-output test-output .pytest_cache
