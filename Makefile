# factory-twin — the two commands a user needs: `make demo` and `make test`.
# Both run `make setup` first, which installs what is missing and nothing else.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := mosquitto influxdb

.PHONY: setup demo test lint bench clean .apt-ok

setup: $(STAMP) node_modules/.installed
	@for bin in mosquitto influxd; do command -v $$bin >/dev/null || command -v /usr/sbin/$$bin >/dev/null || { echo "setup: $$bin still missing"; exit 1; }; done

# OS packages: installed only when missing (apt-get on Debian/Ubuntu, as root or via sudo).
.apt-ok:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml | .apt-ok
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

node_modules/.installed: package.json
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi
	@mkdir -p node_modules && touch node_modules/.installed

demo: setup
	$(VENV)/bin/twin demo

test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy twin edge_agent ingest analytics simulators dashboards api app
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) -m pytest benchmarks -o addopts="" -o python_files="bench_*.py" -s -q -p no:cacheprovider

clean:
	rm -rf $(VENV) node_modules .twin .pytest_cache
