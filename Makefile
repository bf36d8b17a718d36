# The two commands of the README: `make book` and `make test`. Everything else is a step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHELL  := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

.PHONY: book test venv data lint notebooks check-notebooks gpu-notebooks bench clean

## book: build the site into _build/html (executes changed chapters; -W: warnings fail),
## then the Chinese edition into _build/html/zh (same code: it reuses the execution cache)
book: $(STAMP) data
	$(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python -m tools.i18n build

## test: lint, unit tests, nbval over every chapter, browser and Colab checks
test: book
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto --dist loadscope --nbval --cov=helpers --cov-report=term-missing:skip-covered

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps d2l==1.0.3
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

## data: verify (or fetch) Fashion-MNIST into data/FashionMNIST/raw
data: $(STAMP)
	$(BIN)/python -c "import helpers; print('Fashion-MNIST:', helpers.ensure_fashion_mnist())"

## notebooks: re-execute every chapter into chapters/NN_name.ipynb (golden outputs, Colab);
## refuses while other processes keep the machine busy (ALLOW_BUSY=1 overrides, recorded)
notebooks: $(STAMP) data
	$(BIN)/python -m tools.notebooks fix-setup
	$(BIN)/python -m tools.notebooks build $(CHAPTERS) $(if $(ALLOW_BUSY),--allow-busy)
	$(BIN)/python -m tools.i18n notebooks

## gpu-notebooks: on a machine with a CUDA GPU, execute the GPU chapters into gpu_runs/
gpu-notebooks: $(STAMP) data
	$(BIN)/python -m tools.notebooks build-gpu
	$(BIN)/python -m tools.notebooks check-gpu

check-notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks check

## bench: measure the course's pipeline against the d2l-style path (see benchmarks/)
bench: $(STAMP) data
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf _build .jupyter_cache
