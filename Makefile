# The task runner the README names. `make serve` and `make test` install what they
# need first (scripts/bootstrap), so a fresh clone needs nothing else.
.PHONY: serve test check lint typecheck contracts pytest bootstrap

VENV := .venv/bin

bootstrap:
	@scripts/bootstrap

serve: bootstrap
	$(VENV)/carechat serve

test: bootstrap check pytest

check: lint typecheck contracts

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

# The layer contracts of setup.cfg (import-linter); docs/architecture.md draws them.
contracts:
	$(VENV)/lint-imports

pytest:
	$(VENV)/pytest
