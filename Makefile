# offlineimap-phantomfix: `make demo` first, `make test` to run every test tier.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint bench system-packages clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Debian's dovecot-imapd and notmuch back the Dovecot and quarantine tests; installed once, quietly.
$(SYSTEM_STAMP): | $(STAMP)
	@if ! command -v dovecot >/dev/null || ! command -v doveadm >/dev/null || ! command -v notmuch >/dev/null; then \
		echo "installing dovecot-imapd and notmuch (apt-get)"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			dovecot-imapd notmuch >/dev/null 2>&1 || { echo "apt-get install dovecot-imapd notmuch failed" >&2; exit 1; }; \
	fi
	@touch $@

system-packages: $(SYSTEM_STAMP)

test: $(STAMP) $(SYSTEM_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e and not dovecot" $(PYTEST_ARGS)

demo: $(STAMP)
	@$(PY) -m offlineimap_phantomfix demo

lint: $(STAMP)
	$(VENV)/bin/ruff check offlineimap_phantomfix tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) $(SYSTEM_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
