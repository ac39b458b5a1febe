# The two commands a new machine needs:
#   make run    set up everything and run the whole network (embedded Postgres + tansu)
#   make test   set up everything and run the tests (unit, integration, end-to-end)

UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
UV := python3 -m uv
# The environment is synced once by `setup`; runs must not re-resolve it.
RUN := $(UV) run --frozen --no-sync

# make ops ARGS="health"   the on-call command against the local network
.PHONY: setup setup-browser setup-promtool run demo token ops faults bench-search bench-quick bench-pipeline bench-consumers bench-broker fuzz test test-unit test-integration test-e2e bench schemas lint clean

# uv itself, pinned, then the workspace exactly as uv.lock has it.
setup:
	@$(UV) --version 2>/dev/null | grep -q "^uv $(UV_VERSION) " || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-packages
	$(RUN) python -m rescue_divisions

# The console's browser tests: Debian's chromium and CJK fonts, installed only when
# missing (playwright cannot download browsers here). A failed install fails the
# tests instead of skipping them.
BROWSER_DEBS := chromium fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
setup-browser:
	@[ "$$(dpkg-query -W -f='$${db:Status-Status}\n' $(BROWSER_DEBS) 2>/dev/null | grep -cx installed)" = 2 ] || \
	  { echo "installing $(BROWSER_DEBS) (apt)"; $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(BROWSER_DEBS) >/dev/null; }

# promtool checks and unit-tests the alert rules (deploy/prometheus/rules/): Debian's
# prometheus package (promtool and the server), installed only when missing. A failed
# install fails the tests instead of skipping them.
setup-promtool:
	@command -v promtool >/dev/null || \
	  { echo "installing prometheus (apt: promtool)"; $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

run: setup
	$(RUN) python -m rescue_localnet up

demo:
	$(RUN) python -m rescue_localnet demo

# make token STATION=center ROLES=station_staff,ops (from make run's local issuer)
STATION ?= gushi
ROLES ?= station_staff
token:
	@$(RUN) python -m rescue_localnet token --station $(STATION) --roles $(ROLES)

# The on-call command (libs/ops); against `make run`, with an ops token of its local issuer.
ARGS ?= health
ops:
	@RESCUE_OPS_TOKEN="$$($(RUN) python -m rescue_localnet token --station center --roles ops --subject rescue-ops)" \
	  $(RUN) rescue-ops $(ARGS)

# Issue 31: a service's database on the local network (docs/runbook.md, "Restore a
# service's database"). Backups go to var/localnet/backups/.
#   make backup SERVICE=intake        pg_dump of one database
#   make backup BASE=1                base backup of the server (turns WAL archiving on)
#   make restore SERVICE=intake       from its newest dump, or FROM=<file.dump>, or
#                                     AT=2026-12-07T21:30:00+08:00 (base backup + WAL)
.PHONY: backup restore
SERVICE ?=
backup:
	$(RUN) python -m rescue_localnet backup $(if $(BASE),--base,--service $(SERVICE))

restore:
	$(RUN) python -m rescue_localnet restore --service $(SERVICE) $(if $(FROM),--from $(FROM)) $(if $(AT),--at $(AT))

test: setup setup-browser setup-promtool
	$(RUN) pytest

# The long fault-injection run (minutes), through make run's supervisor: every
# service SIGKILLed, Postgres restarted, the broker killed (back empty), stopped
# and frozen, duplicates and poison; prints its report (and the time each fault's
# backlog took to deliver).
faults: setup
	RESCUE_FAULT_RUN=1 $(RUN) pytest -s tests/faults

test-unit: setup setup-promtool
	$(RUN) pytest tests/unit

test-integration: setup
	$(RUN) pytest tests/integration

test-e2e: setup setup-browser
	$(RUN) pytest tests/e2e

# Figures, not assertions: each with its target and PASS/FAIL, exit 0 whatever they
# are (issue 30: intake vs a bare FastAPI+asyncpg baseline at each one's plateau and
# server CPU per request, commit→commit latency and CPU per admission at 100 and
# 150/s, records and deliveries per admission; issue 11: memory per service, relay
# throughput; issue 5's and 30's search figures). About 25 minutes; bench-quick: 5.
bench: setup
	$(RUN) python bench/run_all.py

# Issue 5's targets: faces over 1,000,000 embeddings (pgvector HNSW; the index
# build takes minutes), place names over the whole gazetteer, person names over
# 1,000,000 records. Figures with PASS/FAIL words.
bench-search: setup
	$(RUN) python bench/place_search.py
	$(RUN) python bench/address_search.py
	$(RUN) python bench/name_search.py
	$(RUN) python bench/face_search.py

# Issue 30: matching one new case and one new report against 1k, 10k and 100k open
# reports and cases (the matching index's candidates only); p99 ≤ 50 ms at 100k.
.PHONY: bench-matching
bench-matching: setup
	$(RUN) python bench/matching_scale.py

bench-quick: setup
	$(RUN) python bench/run_all.py --quick

bench-pipeline: setup
	$(RUN) python bench/event_pipeline.py

# CPU per person_admitted of each consumer service, by fetch size (no Kafka).
bench-consumers: setup
	$(RUN) python bench/consumer_cost.py

# The local broker's hop (producer → waiting consumer) and idle polling CPU, by
# the consumers' fetch wait: tansu alone.
bench-broker: setup
	$(RUN) python bench/broker_hop.py

# Issue 26: the console's page and action latency (p50/p95/p99) with 20 simulated
# staff on the real network, beside the same calls made straight to the services.
.PHONY: bench-console
bench-console: setup
	$(RUN) python bench/console_latency.py

# Schemathesis, every check, against every service's OpenAPI document (the
# local network on free ports; ≤ ~10 minutes). Per service: operations tested,
# failures by kind, PASS/FAIL; reports in var/fuzz/. make fuzz SEED=7
SEED ?= 1
fuzz: setup
	$(RUN) python tests/fuzz/run_schemathesis.py --seed $(SEED)

schemas:
	$(RUN) python -m rescue_events.schemas write

# Issue 31: every event schema and every service's OpenAPI document against the last
# release in contracts/released/ (also in the unit tests); a breaking change fails
# unless its version is raised. contracts-release snapshots CONTRACTS_VERSION
# (rescue_events.compat) once it is raised; a release is never rewritten.
.PHONY: contracts-check contracts-release
contracts-check:
	$(RUN) python -m rescue_chassis.api_contracts check

contracts-release:
	$(RUN) python -m rescue_chassis.api_contracts release

# Issue 31: the alerts' PrometheusRule for Kubernetes, written from the rules compose's
# Prometheus loads (deploy/prometheus/rules/); the unit tests fail when they differ.
.PHONY: prometheus-rule
prometheus-rule:
	$(RUN) python deploy/prometheus/prometheus_rule.py

# Issue 31: Prometheus (Debian's, make setup-promtool) scraping the running local
# network's /metrics every 5 s with the alert rules of deploy/prometheus/rules/; alerts at
# http://127.0.0.1:9090/alerts (docs/runbook.md, "Alerts"). LOCALNET_DIR: the network's
# data folder, whose supervisor.json gives its ports (make run: var/localnet).
.PHONY: alerts-local
LOCALNET_DIR ?= var/localnet
PROMETHEUS_LISTEN ?= 127.0.0.1:9090
alerts-local: setup-promtool
	$(RUN) python deploy/prometheus/local_alerts.py --data-dir $(LOCALNET_DIR) --listen $(PROMETHEUS_LISTEN)

# Issue 31: a trace backend for the local network: Arize Phoenix (Elastic License 2.0, an
# ops tool in its own venv var/tools/phoenix, never a project dependency) receiving OTLP
# at http://$(PHOENIX_LISTEN)/v1/traces; start the network with the printed
# OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (docs/runbook.md, "Traces on the local network").
.PHONY: traces-local
PHOENIX_LISTEN ?= 127.0.0.1:6006
traces-local:
	python3 deploy/traces-local/run.py --listen $(PHOENIX_LISTEN)

# Issue 31: production compose (docker-compose.prod.yml) reads every secret from a file
# in RESCUE_SECRETS_DIR; this writes the missing ones, random (never replaces one).
#   make compose-secrets SECRETS_DIR=/etc/rescue-network/secrets
.PHONY: compose-secrets
SECRETS_DIR ?=
compose-secrets:
	@[ -n "$(SECRETS_DIR)" ] || { echo "make compose-secrets SECRETS_DIR=<folder outside the repository>"; exit 2; }
	$(RUN) python deploy/compose/compose_secrets.py $(SECRETS_DIR)

# Issue 31: the third-party images of compose, Kubernetes and the Dockerfiles by digest
# (name:tag@sha256:…), resolved from their registries (HTTPS); what cannot be resolved
# stays by tag, listed in deploy/images.allow with the reason (checked by the unit tests).
.PHONY: pin-images
pin-images:
	$(RUN) python deploy/images.py pin

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

clean:
	rm -rf var/localnet
