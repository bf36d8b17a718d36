# The two commands of the README: `make book` and `make test`. Everything else is a step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHELL  := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# What the venv installs: the lock (exact versions and hashes, made by `make lock` from
# requirements.txt's ranges). The weekly newest-versions workflow installs the ranges
# themselves: `make test REQUIREMENTS=requirements.txt`.
LOCK := requirements.lock
REQUIREMENTS ?= $(LOCK)
# `make test` ends with a summary (tools/summary.py): each step's time is appended to
# STEPS under this invocation's RUN id, pytest's results go to REPORTS.
REPORTS := _build/reports
STEPS   := $(REPORTS)/steps.tsv
RUN     := $(shell date +%s%N)
# $(call timed,STEP,COMMANDS[,THEN]): run COMMANDS, record how long they took as STEP (to
# the microsecond with bash 5's EPOCHREALTIME, else to the second), run THEN (ending in
# `;`), and exit with COMMANDS' status. Its recipe lines start with @: it echoes COMMANDS.
now   = $${EPOCHREALTIME:-$$(date +%s)}
timed = echo '$(subst ','\'',$(strip $(2)))'; t0=$(now); set +e; ( set -e; $(2) ); status=$$?; set -e; mkdir -p $(REPORTS); \
	echo "$(RUN)	$(1)	$$t0	$(now)" >> $(STEPS); $(3) exit $$status

.PHONY: book test venv lock data lint notebooks check-notebooks gpu-notebooks bench clean

## book: build the site into _build/html (executes changed chapters; -W: warnings fail),
## then the Chinese edition into _build/html/zh (same code: it reuses the execution cache),
## then both as PDFs into _build/pdf, printed with Chromium (tools/pdf.py; CHROMIUM_PATH)
book: $(STAMP) data
	@$(call timed,book,$(BIN)/jupyter-book build . -W --keep-going)
	@$(call timed,zh,$(BIN)/python -m tools.i18n build)
	@$(call timed,pdf,$(BIN)/python -m tools.pdf)

## test: lint, unit tests, nbval over every chapter, browser and Colab checks; then a
## summary: tests passed, coverage, the five slowest tests, the time of each step
test: book
	@$(call timed,lint,$(BIN)/ruff check . && $(BIN)/ruff format --check .)
	rm -f $(REPORTS)/junit.xml $(REPORTS)/coverage.json
	@$(call timed,tests,$(BIN)/pytest -n auto --dist loadscope --no-loadscope-reorder --nbval \
	    --cov=helpers --cov-report=term-missing:skip-covered \
	    --cov-report=json:$(REPORTS)/coverage.json --junitxml=$(REPORTS)/junit.xml,\
	    $(BIN)/python -m tools.summary --run $(RUN) --reports $(REPORTS);)

venv: $(STAMP)
# uv installs the lock: the same packages and hashes as pip, in a fraction of the time. The
# venv's bundled pip first installs the lock's uv (its line and hashes only). pip's local
# wheels (PIP_FIND_LINKS) are passed on to uv; where uv cannot install the lock (no network,
# and mirrors only pip's own configuration names), pip installs it with its own settings.
# d2l's metadata pins numpy==1.23.5 and more: --no-deps. helpers builds with the lock's
# setuptools: --no-build-isolation. --compile-bytecode: as pip does, so that no process
# compiles torch's modules again (with PYTHONDONTWRITEBYTECODE set, every one would).
UV_LINES := /^uv[=<>~ ]/,/^[a-z\#]/{/^uv/p;/^ *--hash/p}
UV       := $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python \
    $(foreach dir,$(PIP_FIND_LINKS),--find-links $(dir))
$(STAMP): $(REQUIREMENTS) pyproject.toml
	@$(call timed,venv,test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	    $(BIN)/python -m pip install -q -r <(sed -n '$(UV_LINES)' $(REQUIREMENTS)); \
	    if ! $(UV) -r $(REQUIREMENTS); then \
	        echo "uv could not install $(REQUIREMENTS); pip installs it with its own settings"; \
	        $(BIN)/python -m pip install -q -r $(REQUIREMENTS); \
	    fi; \
	    $(BIN)/python -m pip install -q --no-deps d2l==1.0.3; \
	    $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .)
	touch $@

## lock: re-resolve requirements.txt's ranges to the newest versions they allow, into
## requirements.lock (from PyPI, every platform, Python >= 3.11); then `make test` and
## commit both files
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.txt --output-file $(LOCK) --upgrade --universal \
	    --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

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
	@$(call timed,lint,$(BIN)/ruff check . && $(BIN)/ruff format --check .)

clean:
	rm -rf _build .jupyter_cache
