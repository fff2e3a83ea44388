"""Drop what a removed PostgreSQL connector leaves behind: its replication slot and publication.

A slot nobody reads holds back WAL forever, so ``connector remove --drop-slot`` drops it,
waiting for the stopping task to let go of it first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import psycopg

from cdc_facts.errors import PreflightError
from cdc_facts.preflight import postgres


def drop_slot_and_publication(
    params: Mapping[str, Any], slot: str, publication: str, *, timeout: float = 30.0
) -> list[str]:
    """Drop ``slot`` (once inactive) and ``publication``; return what was dropped.

    Raises:
        PreflightError: The slot stays active for ``timeout`` seconds, or dropping fails.
    """
    dropped: list[str] = []
    with postgres.session(params) as conn:
        if _wait_inactive(conn, slot, timeout):
            _run(conn, "SELECT pg_drop_replication_slot(%s)", (slot,))
            dropped.append(f"replication slot {slot}")
        exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
        if exists.fetchone():
            quoted = '"' + publication.replace('"', '""') + '"'
            _run(conn, f"DROP PUBLICATION {quoted}", ())
            dropped.append(f"publication {publication}")
    return dropped


def _wait_inactive(conn: psycopg.Connection[Any], slot: str, timeout: float) -> bool:
    """False when the slot does not exist; True once it is inactive."""
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
        if row is None:
            return False
        if not row[0]:
            return True
        if time.monotonic() >= deadline:
            raise PreflightError(
                f"replication slot {slot} is still in use after {timeout:g}s",
                hint="is another connector reading it? stop it, then run remove again",
            )
        time.sleep(0.5)


def _run(conn: psycopg.Connection[Any], statement: str, params: tuple[str, ...]) -> None:
    try:
        conn.execute(statement.encode(), params)
    except psycopg.Error as exc:
        raise PreflightError(
            f"cannot run {statement}: {str(exc).strip().splitlines()[0]}",
            hint="drop it as a superuser or the slot's owner: pass --admin-dsn",
        ) from exc
