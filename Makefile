# offlineimap-phantomfix: `make demo` first, `make test` to run every test tier.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
PYTEST_ARGS ?=

.PHONY: demo test test-debian test-fast test-long lint bench system-packages clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Debian packages behind some test tiers, installed once, quietly: dovecot-imapd (real-server tests), notmuch
# (quarantine indexing), patch (patches/ tests) and offlineimap3 (Debian's build, for the compatibility run).
DEBIAN_PACKAGES := dovecot-imapd notmuch patch offlineimap3
$(SYSTEM_STAMP): | $(STAMP)
	@missing=""; \
	for program in dovecot doveadm notmuch patch /usr/bin/offlineimap; do \
		command -v $$program >/dev/null 2>&1 || missing="$$missing $$program"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing $(DEBIAN_PACKAGES) with apt-get (missing:$$missing)"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES) \
			>/dev/null 2>&1 || { echo "apt-get install $(DEBIAN_PACKAGES) failed" >&2; exit 1; }; \
	fi
	@touch $@

system-packages: $(SYSTEM_STAMP)

# Every tier, then the PhantomSafeIMAP end-to-end suite once more against Debian's offlineimap3 build.
test: $(STAMP) $(SYSTEM_STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-debian

test-debian: $(STAMP) $(SYSTEM_STAMP)
	PHANTOMFIX_OFFLINEIMAP=/usr/bin/offlineimap $(PY) -m pytest -q tests/e2e/test_phantomsafe.py $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e and not dovecot" $(PYTEST_ARGS)

# The long runs of the model-based and fuzz tiers (minutes, not for every CI run).
test-long: $(STAMP)
	PHANTOMFIX_LIFE_EXAMPLES=300 PHANTOMFIX_FUZZ_EXAMPLES=2000 $(PY) -m pytest -q -m "lifecycle or fuzz" $(PYTEST_ARGS)

demo: $(STAMP)
	@$(PY) -m offlineimap_phantomfix demo

lint: $(STAMP)
	$(VENV)/bin/ruff check offlineimap_phantomfix tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) $(SYSTEM_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
