# trio_chat: `make serve`, `make client NAME=ana`, `make cert`, `make test`.
# The first use creates .venv and installs the package with its dev extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# trio-chat then words its hints as make variables (PORT=5001, not --port 5001).
# Recipes `exec` it, so that no shell sits between make and trio-chat: one that
# died of Ctrl+C would make make print "Interrupt" after the server's clean stop.
VIA_MAKE := TRIO_CHAT_VIA_MAKE=1

# Every option has a make variable (the README's Options table lists them all):
#   make serve   HOST PORT MAX_CLIENTS DB HISTORY HISTORY_KEEP_DAYS HISTORY_MAX_MB
#                NO_PRIVATE_HISTORY=1 PASSWORD_FILE OPER_PASSWORD_FILE
#                FLOOD_RATE FLOOD_BURST MAX_PER_ADDRESS CONNECT_RATE EXEMPT
#                TLS_CERT TLS_KEY LOG_LEVEL LOG_FORMAT WEB_PORT NO_WEB=1 WEB_ORIGIN="URL URL"
#                WEB_HOST="NAME NAME"
#                IRC_PORT IRC_TLS_PORT IRC_SERVER_NAME IRC_SERVER_INFO NO_IRC=1
#                IRC_SASL_PLAINTEXT=1
#                REDIS REDIS_HEARTBEAT SERVER_LANG (not LANG: the environment's locale)
#   make cluster REDIS_PORT (6390) PORTS ("5000 5001") WEB_PORTS ("8080 8081")
#                IRC_PORTS ("6667 6668"): a local Redis
#                and two servers sharing it
#   make client  NAME HOST PORT SERVER_PASSWORD_FILE PASSWORD_FILE TLS_CA TLS=1 NO_COLOR=1
#                NO_RECONNECT=1 CLIENT_LANG (not LANG: the environment's locale)
#   make cert    HOSTS="name 192.168.1.20" (more names) CERT_DIR DAYS FORCE=1 CERT_LANG
#   make bench BENCH_ARGS='--scenario fanout-100'; make soak SOAK_ARGS='--clients 200'.
# e.g. make serve PORT=5001 DB=class.sqlite3 PASSWORD_FILE=door.txt LOG_FORMAT=json
# Without make: .venv/bin/trio-chat serve --port 5001 ... (or `pipx install .`).

# $(call opt,VAR,--flag): `--flag 'VALUE'` if VAR is set, quoted for the shell (so
# NAME='ana maria' reaches trio-chat as one argument); $(call flag,VAR,--flag): `--flag`
# if VAR is set and not 0.
quote = '$(subst ','\'',$(1))'
opt = $(if $($(1)),$(2) $(call quote,$($(1))))
flag = $(if $(filter-out 0,$($(1))),$(2))
SERVE_ARGS := $(call opt,HOST,--host) $(call opt,PORT,--port) \
	$(call opt,MAX_CLIENTS,--max-clients) $(call opt,DB,--db) $(call opt,HISTORY,--history) \
	$(call opt,HISTORY_KEEP_DAYS,--history-keep-days) $(call opt,HISTORY_MAX_MB,--history-max-mb) \
	$(call flag,NO_PRIVATE_HISTORY,--no-private-history) \
	$(call opt,PASSWORD_FILE,--password-file) \
	$(call opt,OPER_PASSWORD_FILE,--oper-password-file) \
	$(call opt,FLOOD_RATE,--flood-rate) $(call opt,FLOOD_BURST,--flood-burst) \
	$(call opt,MAX_PER_ADDRESS,--max-per-address) $(call opt,CONNECT_RATE,--connect-rate) \
	$(call opt,EXEMPT,--exempt) $(call opt,TLS_CERT,--tls-cert) $(call opt,TLS_KEY,--tls-key) \
	$(call opt,LOG_LEVEL,--log-level) $(call opt,LOG_FORMAT,--log-format) \
	$(call opt,WEB_PORT,--web-port) $(call flag,NO_WEB,--no-web) \
	$(foreach origin,$(WEB_ORIGIN),--web-origin $(call quote,$(origin))) \
	$(foreach name,$(WEB_HOST),--web-host $(call quote,$(name))) \
	$(call opt,IRC_PORT,--irc-port) $(call opt,IRC_TLS_PORT,--irc-tls-port) \
	$(call opt,IRC_SERVER_NAME,--irc-server-name) $(call opt,IRC_SERVER_INFO,--irc-server-info) \
	$(call flag,NO_IRC,--no-irc) $(call flag,IRC_SASL_PLAINTEXT,--irc-sasl-plaintext) \
	$(call opt,REDIS,--redis) $(call opt,REDIS_HEARTBEAT,--redis-heartbeat) \
	$(call opt,SERVER_LANG,--lang)
CLIENT_ARGS := $(call opt,NAME,--name) $(call opt,HOST,--host) $(call opt,PORT,--port) \
	$(call opt,SERVER_PASSWORD_FILE,--server-password-file) \
	$(call opt,PASSWORD_FILE,--password-file) $(call opt,TLS_CA,--tls-ca) \
	$(call flag,TLS,--tls) $(call flag,NO_COLOR,--no-color) $(call flag,NO_RECONNECT,--no-reconnect) \
	$(call opt,CLIENT_LANG,--lang)
CERT_ARGS := $(foreach name,$(HOSTS),--host $(call quote,$(name))) \
	$(call opt,CERT_DIR,--out) $(call opt,DAYS,--days) $(call flag,FORCE,--force) \
	$(call opt,CERT_LANG,--lang)

.PHONY: serve client cert cluster test bench soak catalogs format venv clean screenshots irctest irctest-v3

serve: $(STAMP)
	@exec env $(VIA_MAKE) $(BIN)/trio-chat serve $(SERVE_ARGS)

# Exit 3 is a normal end the client explained (server shut down, kicked, wrong password):
# not a make error.
client: $(STAMP)
	@env $(VIA_MAKE) $(BIN)/trio-chat client $(CLIENT_ARGS) || [ $$? -eq 3 ]

# A self-signed TLS certificate for this PC: cert.pem and key.pem (see README, Security).
cert: $(STAMP)
	@exec env $(VIA_MAKE) $(BIN)/trio-chat cert $(CERT_ARGS)

# A local redis-server (REDIS_PORT, default 6390) and one server per port of PORTS
# (default 5000 5001; web pages on WEB_PORTS, 8080 8081; IRC on IRC_PORTS, 6667 6668), sharing it: see README,
# Several servers. Ctrl+C stops them all.
cluster: $(STAMP)
	@exec env $(VIA_MAKE) $(BIN)/python -m trio_chat.tools.cluster \
		$(call opt,REDIS_PORT,--redis-port) $(call opt,PORTS,--ports) $(call opt,WEB_PORTS,--web-ports) \
		$(call opt,IRC_PORTS,--irc-ports)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict trio_chat
	$(BIN)/pytest

# irctest, the IRC servers' conformance suite (README: IRC, Conformance), from the pinned
# copy in ../shared/irctest: `make irctest` runs the plain RFC/modern subset, `make
# irctest-v3` adds the IRCv3 tests; IRCTEST_ARGS='-k names -v' picks tests.
IRCTEST ?= $(firstword $(wildcard ../shared/irctest ../../shared/irctest))
IRCTEST_PLAIN := not services and not implementation-specific and not deprecated and not strict
IRCTEST_MARKERS ?= $(IRCTEST_PLAIN) and not IRCv3
IRCTEST_ARGS ?= -n 2
irctest: $(STAMP)
	@test -n "$(IRCTEST)" || { echo "irctest not found: make irctest IRCTEST=DIR"; exit 2; }
	cd $(IRCTEST) && PYTHONPATH=$(CURDIR)/conformance PYTHONDONTWRITEBYTECODE=1 \
		$(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider --timeout 300 \
		--controller irctest_trio_chat -m '$(IRCTEST_MARKERS)' $(IRCTEST_ARGS)

irctest-v3:
	@$(MAKE) --no-print-directory irctest IRCTEST_MARKERS='$(IRCTEST_PLAIN)'

# Load scenarios against trio_chat and the threaded original in one interleaved run, with
# the ratio table (a few minutes); BENCH_ARGS='--scenario fanout-1000 --target ngircd=HOST:PORT'.
bench: $(STAMP)
	$(BIN)/trio-chat bench --compare $(BENCH_ARGS)

# Clients join, chat, leave and reconnect for 2 minutes; fails on any loss, leak or error.
soak: $(STAMP)
	$(BIN)/trio-chat soak $(SOAK_ARGS)

# The README's pictures of the web page (docs/screenshot-*.png), taken by its browser test.
screenshots: $(STAMP)
	TRIO_CHAT_SCREENSHOTS=$(CURDIR)/docs $(BIN)/pytest -q tests/web/static/test_screenshots.py

# Bring the translation catalogs (trio_chat/locale/) up to date with the code's messages.
catalogs: $(STAMP)
	$(BIN)/trio-chat catalogs

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(STAMP)

# pip -qq: only errors (setuptools' notes on editable installs are not for users).
$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) with trio_chat and its tools (once; a minute or so)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --upgrade pip
	@$(BIN)/python -m pip install -qq -e '.[dev]'
	@touch $(STAMP)
	@echo "Done: $(BIN)/trio-chat is installed."

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
