# Everything from a fresh machine: `make demo` runs the main job, `make test` the tests.
# The demo installs only what it runs on (the package's dependencies, Graphviz, a Japanese
# font); the tests add their extras (PyTorch, the notebooks' kernel, the benchmarks' peers,
# playwright) and Debian's chromium.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-no-torch bench setup setup-test docs-images

setup: $(VENV)/.runtime
setup-test: $(VENV)/.test

$(VENV)/.runtime: pyproject.toml
	@command -v dot >/dev/null || (apt-get update -qq && apt-get install -y -qq graphviz)
	@# a font with Japanese glyphs for the demo's pictures (fc-list comes with fontconfig)
	@fc-list :lang=ja 2>/dev/null | grep -q . || (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)  # explore's browser tests
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: setup
	$(PY) -m tinygrad_tf demo

test: setup-test
	$(VENV)/bin/ruff check .
	# two workers, one BLAS thread each; --nbmake also runs every notebook in notebooks/ top to bottom.
	# TINYGRAD_TF_CACHE: a new folder per run, where the first test or notebook that needs the
	# trained translator trains it (translation.pretrained) and every other one reads it
	cache=$$(mktemp -d) && TINYGRAD_TF_CACHE=$$cache OPENBLAS_NUM_THREADS=1 \
	  $(PY) -m pytest -q -n 2 --nbmake --nbmake-timeout=120 tests notebooks; \
	  status=$$?; rm -rf $$cache; exit $$status

test-no-torch: setup-test  # the tests with PyTorch hidden (as if uninstalled): only the parity checks skip
	hide=$$(mktemp -d) && mkdir $$hide/torch && \
	  echo "raise ModuleNotFoundError(\"No module named 'torch' (hidden)\", name='torch')" > $$hide/torch/__init__.py && \
	  PYTHONPATH=$$hide:$(CURDIR) OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -q -n 2 -p no:cacheprovider tests; \
	  status=$$?; rm -rf $$hide; exit $$status

bench: setup-test     # the peers it times against are test extras
	$(PY) -m benchmarks

docs-images: setup-test    # the docs' two pictures of the explorer (explore.png, explore_prediction.png), made anew from the code (docs/gen_explore_png.py)
	PYTHONPATH=$(CURDIR) $(PY) docs/gen_explore_png.py
