# trio_chat: `make serve`, `make client NAME=ana`, `make test`.
# The first use creates .venv and installs the package with its dev extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Optional: HOST, PORT (serve and client), NAME (client), MAX_CLIENTS and DB (serve).
SERVE_ARGS := $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)) \
              $(if $(MAX_CLIENTS),--max-clients $(MAX_CLIENTS)) $(if $(DB),--db $(DB))
CLIENT_ARGS := $(if $(NAME),--name $(NAME)) $(if $(HOST),--host $(HOST)) \
               $(if $(PORT),--port $(PORT))

.PHONY: serve client test bench soak format venv clean

serve: $(STAMP)
	@$(BIN)/trio-chat serve $(SERVE_ARGS)

client: $(STAMP)
	@$(BIN)/trio-chat client $(CLIENT_ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict trio_chat
	$(BIN)/pytest

# Load scenarios against trio_chat and the threaded original (a few minutes).
bench: $(STAMP)
	$(BIN)/trio-chat bench $(BENCH_ARGS)

# Clients join, chat, leave and reconnect for 2 minutes; fails on any loss, leak or error.
soak: $(STAMP)
	$(BIN)/trio-chat soak $(SOAK_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
