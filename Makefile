# The two commands of the quick start are `make demo` and `make test`; the rest are for developers.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/recommender

.PHONY: demo test test-sqlite test-postgres worker bench lint format clean

$(PY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(PY)

## Demo site on the embedded default (SQLite, in-process cache, eager tasks) at http://127.0.0.1:8000/
demo: $(PY)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py recommender_demo
	$(PY) manage.py runserver 127.0.0.1:8000

## The whole suite: on SQLite, then on PostgreSQL; integration tests use Redis and a real Celery worker.
test: test-sqlite test-postgres

test-sqlite: $(PY)
	REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL= $(PY) -m pytest

# tests/ml never touches the database, so the PostgreSQL pass leaves it out.
test-postgres: $(PY)
	REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest --ignore=tests/ml

## Celery workers and beat for the demo project, in the foreground (needs REDIS_URL): a worker
## for refreshes (queue "celery", 2 processes), a solo worker for training (queue "training":
## TensorFlow is imported only there, in a process that never forks) and beat. Ctrl-C stops all.
worker: $(PY)
	@test -n "$$REDIS_URL" || (echo "Set REDIS_URL (for example redis://127.0.0.1:6379/0) first." && exit 2)
	@mkdir -p var; trap 'kill $$pids 2>/dev/null; wait' EXIT INT TERM; \
	$(VENV)/bin/celery -A project worker -Q celery -c 2 -n default@%h --loglevel=INFO & pids="$$!"; \
	$(VENV)/bin/celery -A project worker -Q training -P solo -n training@%h --loglevel=INFO & pids="$$pids $$!"; \
	$(VENV)/bin/celery -A project beat -s var/celerybeat-schedule --loglevel=INFO & pids="$$pids $$!"; \
	wait

## Every benchmark; writes benchmarks/RESULTS.md.
bench: $(PY)
	$(PY) benchmarks/run_all.py

lint: $(PY)
	$(VENV)/bin/ruff check recommender project tests benchmarks
	$(VENV)/bin/ruff format --check recommender project tests benchmarks

format: $(PY)
	$(VENV)/bin/ruff format recommender project tests benchmarks
	$(VENV)/bin/ruff check --fix recommender project tests benchmarks

clean:
	rm -rf $(VENV) db.sqlite3 media .pytest_cache
