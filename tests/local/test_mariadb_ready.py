"""The local stack's readiness checks, without starting a database."""

from __future__ import annotations

import gc
import socket
import warnings
from pathlib import Path

import pytest

from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.services import MariaDbService
from cdc_facts.local.settings import LocalStackSettings


@pytest.fixture
def mariadb(tmp_path: Path) -> MariaDbService:
    settings = LocalStackSettings(home=tmp_path / "h", cache=tmp_path / "c")
    return MariaDbService(settings, StackSecrets.load_or_create(settings.home))


def test_mariadb_is_not_ready_without_a_server_and_leaves_no_socket_open(
    mariadb: MariaDbService,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(3):  # as the stack polls while the server starts
            assert mariadb.ready() is False
        gc.collect()  # an unclosed socket would warn here, and fail the test


def test_mariadb_is_not_ready_while_its_socket_file_refuses(mariadb: MariaDbService) -> None:
    """A socket file left by a server that stopped: nothing listens on it."""
    mariadb.socket.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(mariadb.socket))  # bound, never listening: connections are refused
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            assert mariadb.ready() is False
            gc.collect()
