"""Free TCP ports for the throw-away servers tests start beside the dev stack."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick: take each port from here, never derive one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
