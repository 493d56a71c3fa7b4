"""Imported by the warm-worker fork server only, first in its preload list (orchestration/run_launcher.py).

Python's fork server records the SIGINT handler its workers start with after it imported its preload list. The
handler installed here records a Ctrl-C the way Dagster's `capture_interrupts()` does, so a worker forked just as
Ctrl-C arrives neither dies before it can fail its run (which would stay STARTING for ever) nor loses the signal:
its run raises the interrupt at its first step boundary and is marked failed. Never import this module anywhere
else: it changes the importing process's SIGINT handler.
"""

import signal

from dagster._utils.interrupts import _received_interrupt


def _hold_interrupt(_signo: int, _frame: object) -> None:
    _received_interrupt["received"] = True  # raised by Dagster's raise_interrupts_as() once the run executes


signal.signal(signal.SIGINT, _hold_interrupt)
