"""The connector's replication slot: how much WAL it holds back, and dropping it when the connector goes."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from resources.cdc_source import CdcSourceResource

_FIGURES = """
SELECT active,
       pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
       pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
       confirmed_flush_lsn::text,
       wal_status
FROM pg_replication_slots WHERE slot_name = %s"""


@dataclass(frozen=True)
class SlotFigures:
    """One replication slot, as Postgres reports it."""

    slot: str
    active: bool
    retained_wal_bytes: int  # WAL the server keeps for the slot (current LSN - restart_lsn)
    unconfirmed_bytes: int  # WAL not yet confirmed by the connector (current LSN - confirmed_flush_lsn)
    confirmed_flush_lsn: str
    wal_status: str  # reserved, extended, unreserved or lost

    def metadata(self) -> dict[str, object]:
        """As Dagster metadata, keys prefixed with slot_."""
        return {f"slot_{k}" if k != "slot" else k: v for k, v in asdict(self).items()}


def slot_figures(source: CdcSourceResource, slot: str) -> SlotFigures | None:
    """The slot's figures, or None when the server has no slot of that name (slots are cluster-wide)."""
    with source.connect() as conn:
        row = conn.execute(_FIGURES, (slot,)).fetchone()
    return SlotFigures(slot, *row) if row else None


def drop_slot(source: CdcSourceResource, slot: str, timeout: float = 60.0) -> bool:
    """Drop the slot once no connection uses it; False when there was none. It takes the REPLICATION attribute
    (or a superuser): the CDC role has it."""
    deadline = time.monotonic() + timeout
    with source.connect() as conn:
        while True:
            row = conn.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
            if row is None:
                return False
            if row[0] is None:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return True
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"replication slot {slot} is still in use by backend pid {row[0]} after "
                    f"{timeout:.0f}s; stop whatever reads it, then run the removal again"
                )
            time.sleep(0.5)
