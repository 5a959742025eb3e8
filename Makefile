# ReliefLink — the two commands: `make run` (embedded default) and `make test` (everything).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install lint format migrate demo worker bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps face-recognition==1.3.0
	$(BIN)/python -c "from core.faces.engine import load_engine; load_engine()"
	touch $@

install: $(VENV)/.installed

## run: SQLite file under instance/, in-process tasks, demo data, server on 127.0.0.1:5000
run: install
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) demo info --base-url http://$(HOST):$(PORT)
	$(FLASK) run --host $(HOST) --port $(PORT)

## test: lint, format check, then the whole suite (DATABASE_URL / CELERY_BROKER_URL select PostgreSQL / Redis)
test: install
	@bash scripts/ensure-system.sh
	@bash scripts/ensure-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(FLASK) db upgrade

worker: install
	$(BIN)/celery -A workers.celery_app worker -Q default,face,notify,bulk -l INFO

clean:
	rm -rf instance .pytest_cache .ruff_cache
