# trio_chat: `make serve`, `make client NAME=ana`, `make cert`, `make test`.
# The first use creates .venv and installs the package with its dev extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Optional: HOST, PORT (serve and client), NAME and NO_RECONNECT=1 (client), MAX_CLIENTS
# and DB (serve).
# TLS: TLS_CERT and TLS_KEY (serve); TLS_CA=cert.pem or TLS=1 (client).
# make cert: HOSTS="name 192.168.1.20" (more names), CERT_DIR, DAYS, FORCE=1.
# make bench BENCH_ARGS='--scenario fanout-100'; make soak SOAK_ARGS='--clients 200'.
SERVE_ARGS := $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)) \
              $(if $(MAX_CLIENTS),--max-clients $(MAX_CLIENTS)) $(if $(DB),--db $(DB)) \
              $(if $(TLS_CERT),--tls-cert $(TLS_CERT)) $(if $(TLS_KEY),--tls-key $(TLS_KEY))
CLIENT_ARGS := $(if $(NAME),--name $(NAME)) $(if $(HOST),--host $(HOST)) \
               $(if $(PORT),--port $(PORT)) $(if $(TLS_CA),--tls-ca $(TLS_CA)) \
               $(if $(filter-out 0,$(TLS)),--tls) \
               $(if $(filter-out 0,$(NO_RECONNECT)),--no-reconnect)
CERT_ARGS := $(foreach name,$(HOSTS),--host $(name)) $(if $(CERT_DIR),--out $(CERT_DIR)) \
             $(if $(DAYS),--days $(DAYS)) $(if $(filter-out 0,$(FORCE)),--force)

.PHONY: serve client cert test bench soak format venv clean

serve: $(STAMP)
	@$(BIN)/trio-chat serve $(SERVE_ARGS)

# Exit 3 is a normal end the client explained (server shut down, kicked, wrong password):
# not a make error.
client: $(STAMP)
	@$(BIN)/trio-chat client $(CLIENT_ARGS) || [ $$? -eq 3 ]

# A self-signed TLS certificate for this PC: cert.pem and key.pem (see README, Security).
cert: $(STAMP)
	@$(BIN)/trio-chat cert $(CERT_ARGS)

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
