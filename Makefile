# offlineimap-phantomfix: `make demo` first, `make test` to run every test tier.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BASE_STAMP := $(VENV)/.installed-base
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
PYTEST_ARGS ?=

.PHONY: demo test test-debian test-fast test-long test-pythons dist lint bench docs system-packages clean

# The package alone (what `make demo` needs), then the test tools on top.
$(BASE_STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e .
	@touch $@

$(STAMP): $(BASE_STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Debian packages behind some test tiers, installed once, quietly: dovecot-imapd (real-server tests), notmuch
# and mutt (the quarantine in a mail reader), tmux (drives mutt and zsh), zsh and man-db (completion and manual
# page tests), patch (patches/ tests), offlineimap3 (Debian's build, for the compatibility run), and for the
# packaging tier: the .deb's build dependencies, lintian, pipx, and venv support for Debian's python3.
DEBIAN_PACKAGES := dovecot-imapd notmuch mutt tmux zsh man-db patch offlineimap3 \
	dpkg-dev debhelper dh-python python3-all python3-setuptools python3-wheel pybuild-plugin-pyproject \
	lintian pipx python3-venv
$(SYSTEM_STAMP): | $(STAMP)
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f '$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed \
			|| missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing $(DEBIAN_PACKAGES) with apt-get (missing:$$missing)"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES) \
			>/dev/null 2>&1 || { echo "apt-get install $(DEBIAN_PACKAGES) failed" >&2; exit 1; }; \
	fi
	@touch $@

system-packages: $(SYSTEM_STAMP)

# Every tier (the packaging tier included), then the PhantomSafeIMAP end-to-end suite once more against
# Debian's offlineimap3 build, then the unit tier and that suite on every other CPython >= 3.9 here.
test: $(STAMP) $(SYSTEM_STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-debian
	$(PY) tests/packaging/run_pythons.py --skip $(PY)

test-debian: $(STAMP) $(SYSTEM_STAMP)
	PHANTOMFIX_OFFLINEIMAP=/usr/bin/offlineimap $(PY) -m pytest -q tests/e2e/test_phantomsafe.py $(PYTEST_ARGS)

# The unit tier and the PhantomSafeIMAP end-to-end suite on every CPython >= 3.9 found here.
test-pythons: $(STAMP) $(SYSTEM_STAMP)
	$(PY) tests/packaging/run_pythons.py

# sdist and wheel in dist/, checked by twine.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e and not dovecot" $(PYTEST_ARGS)

# The long runs of the model-based and fuzz tiers (minutes, not for every CI run).
test-long: $(STAMP)
	PHANTOMFIX_LIFE_EXAMPLES=300 PHANTOMFIX_FUZZ_EXAMPLES=2000 $(PY) -m pytest -q -m "lifecycle or fuzz" $(PYTEST_ARGS)

demo: $(BASE_STAMP)
	@$(PY) -m offlineimap_phantomfix demo

# The manual page and shell completions, written from the argument parser (tests check they are up to date).
docs: $(BASE_STAMP)
	$(PY) -m offlineimap_phantomfix.manual > man/offlineimap-phantomfix.1
	$(PY) -m offlineimap_phantomfix.completion bash > completions/bash/offlineimap-phantomfix
	$(PY) -m offlineimap_phantomfix.completion zsh > completions/zsh/_offlineimap-phantomfix

lint: $(STAMP)
	$(VENV)/bin/ruff check offlineimap_phantomfix tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) $(SYSTEM_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .venv-pythons build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
