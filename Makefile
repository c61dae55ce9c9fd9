# Two entry points: `make demo` (set up, evaluate the embedded model, print the leaderboard) and
# `make test` (set up, run every test: fast ones and the slow ones with real models, servers and
# a browser). Both create ./.venv on first use; pip caches the compiled llama-cpp-python wheel.

VENV ?= .venv
PY := $(VENV)/bin/python
ASSAY := $(VENV)/bin/assay
# Real benchmark data beside the checkout; unset it to load from the Hugging Face hub instead.
DATA ?= $(abspath ../shared/data)
DEMO_EXTRAS := llamacpp,web
# Chosen to finish in about a minute on two idle cores (bench/demo_profile.py shows where the time
# goes): MMLU zero-shot (five examples made its prompts 5x longer, with little sharing between 20
# questions on 17 subjects), and closed-book NaturalQuestions as the free-text task (NarrativeQA's
# story summaries made a third of the demo's prompt tokens).
DEMO_BENCHMARKS := mmlu:shots=0 gsm8k boolq truthfulqa openbookqa naturalquestions
TEST_EXTRAS := dev,llamacpp,server,hf,gemma,helm,math,export,web,metrics,providers,postgres,inspect,lmeval,eee,ray
# Debian packages the tests use (bubblewrap: the code sandbox that HumanEval runs in).
SYSTEM_PACKAGES := chromium postgresql bubblewrap
# A slim, portable llama.cpp build: about 3-11 minutes on two cores, once.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

.PHONY: demo test test-fast lint bench bench-install system-deps

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first, pinned to the CPU build: a bare torch requirement would pull a multi-GB CUDA build
# (the same holds for any extra that comes to pull torch).
# every-eval-ever (the eee extra) declares Python >= 3.12 and converter deps assay never imports
# (duckdb, matplotlib, rich<15, huggingface-hub<2); its schema models run on 3.11, so there it is
# installed alone, without them. `pip check` then lists its declared deps; nothing here runs it.
EEE_PACKAGE := every-eval-ever==0.3.0
$(VENV)/.extras-%: pyproject.toml | $(VENV)/bin/python
	case "$*" in *hf*) $(PY) -m pip install -q "torch==2.13.0" ;; esac
	$(PY) -m pip install -q -e ".[$*]"
	case ",$*," in *,eee,*) $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
		|| $(PY) -m pip install -q --no-deps --ignore-requires-python "$(EEE_PACKAGE)" ;; esac
	touch $@

demo: $(VENV)/.extras-$(DEMO_EXTRAS)
	$(ASSAY) run $(DEMO_BENCHMARKS) --model llamacpp/smollm2 --limit 20 --data-dir $(DATA) --suite demo
	$(ASSAY) leaderboard --suite demo
	@echo
	@echo "Browse every request and response: $(ASSAY) serve   then open http://127.0.0.1:8000/?suite=demo"

system-deps:
	bash scripts/system-deps.sh $(SYSTEM_PACKAGES)

test: $(VENV)/.extras-$(TEST_EXTRAS) system-deps
	$(VENV)/bin/pytest -n auto --dist loadscope

test-fast: $(VENV)/.extras-$(TEST_EXTRAS)
	$(VENV)/bin/pytest -n auto --dist loadscope -m "not slow"

# Only the dev extra: mypy is told the optional SDKs may be missing (pyproject.toml).
lint: $(VENV)/.extras-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: $(VENV)/.extras-$(TEST_EXTRAS)
	$(PY) bench/overhead.py

# Install time and size of each extra, each in a fresh venv under /tmp (a few minutes).
bench-install:
	python3 bench/install.py
