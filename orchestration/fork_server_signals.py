"""Imported by the warm-worker fork server only, first in its preload list (orchestration/run_launcher.py).

Python's fork server records the SIGINT handler its workers start with after it imported its preload list. Ignoring
Ctrl-C here means a worker forked just as Ctrl-C arrives starts with it ignored, instead of dying before it could
hold interrupts the way `dagster api execute_run` does and leaving its run STARTING for ever. Never import this module
anywhere else: it changes the importing process's SIGINT handler.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
