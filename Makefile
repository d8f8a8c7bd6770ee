# The two commands for a fresh machine: `make demo` (the Step A pipeline on synthetic data) and `make test`.
.PHONY: demo test lint env

env: .venv/.ready

.venv/.ready: pyproject.toml uv.lock
	./scripts/bootstrap.sh
	@touch .venv/.ready

# into ./bold-project (or $BOLD_PROJECT): the project folder every other command opens by default
demo: env
	BOLD_PSEUDONYM_KEY=$${BOLD_PSEUDONYM_KEY:-synthetic-demo-only-key} .venv/bin/bold demo --overwrite

test: env
	./scripts/install-test-system-deps.sh
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports
	.venv/bin/mypy
	.venv/bin/python -m pytest -q

lint: env
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports
