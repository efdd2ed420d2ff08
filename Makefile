# trio_chat: `make serve`, `make client NAME=ana`, `make cert`, `make test`.
# The first use creates .venv and installs the package with its dev extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# trio-chat then words its hints as make variables (PORT=5001, not --port 5001).
VIA_MAKE := TRIO_CHAT_VIA_MAKE=1

# Optional: HOST, PORT (serve and client), NAME (client), MAX_CLIENTS and DB (serve).
# TLS: TLS_CERT and TLS_KEY (serve); TLS_CA=cert.pem or TLS=1 (client).
# make cert: HOSTS="name 192.168.1.20" (more names), CERT_DIR, DAYS, FORCE=1.
# make bench BENCH_ARGS='--scenario fanout-100'; make soak SOAK_ARGS='--clients 200'.
# Values go to the shell quoted: NAME='ana maria' reaches trio-chat as one argument.
quote = '$(subst ','\'',$(1))'
SERVE_ARGS := $(if $(HOST),--host $(call quote,$(HOST))) $(if $(PORT),--port $(call quote,$(PORT))) \
              $(if $(MAX_CLIENTS),--max-clients $(call quote,$(MAX_CLIENTS))) \
              $(if $(DB),--db $(call quote,$(DB))) \
              $(if $(TLS_CERT),--tls-cert $(call quote,$(TLS_CERT))) \
              $(if $(TLS_KEY),--tls-key $(call quote,$(TLS_KEY)))
CLIENT_ARGS := $(if $(NAME),--name $(call quote,$(NAME))) $(if $(HOST),--host $(call quote,$(HOST))) \
               $(if $(PORT),--port $(call quote,$(PORT))) \
               $(if $(TLS_CA),--tls-ca $(call quote,$(TLS_CA))) \
               $(if $(filter-out 0,$(TLS)),--tls)
CERT_ARGS := $(foreach name,$(HOSTS),--host $(call quote,$(name))) \
             $(if $(CERT_DIR),--out $(call quote,$(CERT_DIR))) \
             $(if $(DAYS),--days $(call quote,$(DAYS))) $(if $(filter-out 0,$(FORCE)),--force)

.PHONY: serve client cert test bench soak format venv clean

serve: $(STAMP)
	@$(VIA_MAKE) $(BIN)/trio-chat serve $(SERVE_ARGS)

client: $(STAMP)
	@$(VIA_MAKE) $(BIN)/trio-chat client $(CLIENT_ARGS)

# A self-signed TLS certificate for this PC: cert.pem and key.pem (see README, Security).
cert: $(STAMP)
	@$(VIA_MAKE) $(BIN)/trio-chat cert $(CERT_ARGS)

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
