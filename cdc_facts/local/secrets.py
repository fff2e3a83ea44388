"""Passwords of the local stack: generated once, kept in the state dir (mode 0600)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackSecrets:
    postgres_admin: str
    postgres_cdc: str
    mariadb_root: str
    mariadb_cdc: str
    kafka_cluster_id: str

    @classmethod
    def load_or_create(cls, home: Path) -> StackSecrets:
        """The stack's secrets, generated into ``home/secrets.json`` on first use."""
        path = secrets_file(home)
        if path.exists():
            return cls(**json.loads(path.read_text()))
        created = cls(
            postgres_admin=secrets.token_hex(12),
            postgres_cdc=secrets.token_hex(12),
            mariadb_root=secrets.token_hex(12),
            mariadb_cdc=secrets.token_hex(12),
            kafka_cluster_id=kafka_cluster_id(),
        )
        home.mkdir(parents=True, exist_ok=True)
        try:  # private from the first byte; a concurrent first `up` keeps the winner's
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(home)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(asdict(created), indent=2))
        return created

    def values(self) -> list[str]:
        """Every secret value, for masking."""
        return [self.postgres_admin, self.postgres_cdc, self.mariadb_root, self.mariadb_cdc]


def secrets_file(home: Path) -> Path:
    """Where a stack keeps its secrets: its presence tells a state dir holds a stack."""
    return home / "secrets.json"


def kafka_cluster_id() -> str:
    """A random KRaft cluster id: a UUID in URL-safe base64, as Kafka writes one, and, as
    Kafka's own ``Uuid.randomUuid`` does, never starting with ``-`` (a command line would
    read it as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
