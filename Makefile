# Two commands: `make demo` (run the main example) and `make test` (the test suite).
# Both create .venv from Python 3.10 (lava-nc 0.10.0 needs exactly 3.10) when missing.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PY310 := $(shell \
  if command -v pyenv >/dev/null 2>&1 && [ -x "$$(pyenv root)/versions/3.10.13/bin/python" ]; then echo "$$(pyenv root)/versions/3.10.13/bin/python"; \
  elif command -v pyenv >/dev/null 2>&1 && ls -d "$$(pyenv root)"/versions/3.10.*/bin/python >/dev/null 2>&1; then ls -d "$$(pyenv root)"/versions/3.10.*/bin/python | tail -1; \
  elif python3.10 -c 'import sys' >/dev/null 2>&1; then command -v python3.10; \
  fi)

.PHONY: venv test test-fast demo lint bench clean peers

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PY310)" ]; then echo "snnc: Python 3.10 not found (lava-nc 0.10.0 needs 3.10). Install it, e.g. 'pyenv install 3.10.13'." >&2; exit 1; fi
	@[ -x $(PY) ] || $(PY310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[lava,dev,nir,bench,mpi]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

# the inner loop: everything but the Lava and slow tests
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not lava" tests

demo: $(STAMP)
	$(VENV)/bin/snnc run examples/two_layer.yaml --backend cpu -o demo_results.npz
	$(VENV)/bin/snnc compile examples/two_layer.yaml -o two_layer.snnc
	$(VENV)/bin/snnc profile two_layer.snnc --steps 200

lint: $(STAMP)
	$(VENV)/bin/ruff check compiler runtime backends tests bench examples

# Brian2 and NEST for bench/peers.py, in their own venv (Python 3.11; Brian2 2.9 needs numpy < 2.3)
PEERS_VENV := bench/.peers-venv
PY311 := $(shell \
  if command -v pyenv >/dev/null 2>&1 && ls -d "$$(pyenv root)"/versions/3.11.*/bin/python >/dev/null 2>&1; then ls -d "$$(pyenv root)"/versions/3.11.*/bin/python | tail -1; \
  elif python3.11 -c 'import sys' >/dev/null 2>&1; then command -v python3.11; \
  fi)

peers: $(PEERS_VENV)/.installed

$(PEERS_VENV)/.installed:
	@if [ -z "$(PY311)" ]; then echo "snnc: Python 3.11 not found (the peers venv for Brian2 and NEST). Install it, e.g. 'pyenv install 3.11.7'." >&2; exit 1; fi
	@[ -x $(PEERS_VENV)/bin/python ] || $(PY311) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q brian2 nest-simulator 'numpy<2.3'
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
