# The task runner the README names. `make serve` and `make test` install what they
# need first (scripts/bootstrap; for `test`, Debian's Chromium too), so a fresh clone
# needs nothing else.
.PHONY: serve test check lint typecheck contracts pytest bootstrap bootstrap-browser

VENV := .venv/bin

bootstrap:
	@scripts/bootstrap

# The clickable product for a new user: `carechat demo` seeds a practice, practitioners
# and patients (idempotently), serves them and a practice's test site, prints the logins.
serve: bootstrap
	$(VENV)/carechat demo

# The tests include the browser ones (tests/browser), so `test` also installs Chromium.
test: bootstrap-browser check pytest

bootstrap-browser:
	@scripts/bootstrap --browser

check: lint typecheck contracts

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

# The layer contracts of setup.cfg (import-linter); docs/architecture.md draws them.
contracts:
	$(VENV)/lint-imports

# Two workers, each with its own MongoDB, Redis and server (session fixtures); a file's
# tests stay on one worker so its module fixtures are built once. The tests marked
# `alone` (faults, backpressure: deadlines on recoveries) then run on their own.
pytest:
	$(VENV)/pytest -n 2 --dist loadfile -m "not alone"
	$(VENV)/pytest -m alone
