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
	@echo "==> [install 1/3] Python packages into $(VENV) (first run only: a few minutes, mostly downloads)"
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@echo "==> [install 2/3] face-recognition (no build: dlib-bin wheel)"
	$(BIN)/pip install -q --no-deps face-recognition==1.3.0
	@echo "==> [install 3/3] checking that the face models load"
	$(BIN)/python -c "from core.faces.engine import load_engine; load_engine()"
	touch $@

install: $(VENV)/.installed

## run: SQLite file under instance/, in-process tasks, demo data, server on 127.0.0.1:5000
run: install
	@echo "==> [run 1/3] database migrations"
	$(FLASK) db upgrade
	@echo "==> [run 2/3] demo data (first run: about 45,000 regions, then officers, a citizen, an application, a report, a register of 3,000 households, department data and warnings)"
	$(FLASK) demo load
	@echo "==> [run 3/3] serving on http://$(HOST):$(PORT) (HOST=... PORT=... to change)"
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
