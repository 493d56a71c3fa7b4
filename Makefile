# Thin aliases for the README's commands.
.PHONY: dev test test-unit lint up down status
dev:
	bash infra/dev.sh
test:
	bash infra/test.sh
up:
	.venv/bin/lakehouse up
down:
	.venv/bin/lakehouse down
status:
	.venv/bin/lakehouse status
test-unit:  # the tests that need no service and no browser, in seconds
	.venv/bin/python -m pytest -m "not stack and not browser" -q
lint:  # what infra/test.sh checks first
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
