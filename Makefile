# Thin aliases for the README's commands.
.PHONY: dev test test-unit up down status
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
