"""The stack's Java services: the Kafka node, the Kafka Connect worker with Debezium, and
Apicurio Registry, each a thin wrapper over one JVM process."""

from __future__ import annotations

import glob
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from cdc_facts.errors import LocalStackError
from cdc_facts.local.processes import (
    require_tool,
    run,
    spawn,
)
from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.services import BaseService
from cdc_facts.local.settings import LocalStackSettings

_LOG4J2 = """\
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""

#: The Debezium connector classes the Connect worker must offer.
DEBEZIUM_CONNECTORS = (
    "io.debezium.connector.postgresql.PostgresConnector",
    "io.debezium.connector.mysql.MySqlConnector",
    "io.debezium.connector.mariadb.MariaDbConnector",
)


# --- Java services -------------------------------------------------------------------------


def _java() -> str:
    return require_tool("java", hint="install a JDK 17+ (Debian: `apt-get install openjdk-17-jdk`)")


class _JavaService(BaseService):
    def __init__(self, settings: LocalStackSettings, secrets: StackSecrets, jars: Path) -> None:
        super().__init__(settings, secrets)
        self.jars = jars

    def check_tools(self) -> None:
        _java()

    def _jvm_options(self) -> list[str]:
        log4j = self.dir / "log4j2.properties"
        gc_log = self.log.with_name(f"{self.name}-gc.log")  # pauses, to explain latency
        return ["-Xms256m", f"-Xmx{self.settings.heap}", "-XX:+UseG1GC",
                f"-Xlog:gc:file={gc_log}:time,uptime:filecount=4,filesize=20M",
                "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={self.dir / 'logs'}"]

    def _write_log4j(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "log4j2.properties").write_text(_LOG4J2)


class KafkaService(_JavaService):
    """One Kafka node in KRaft combined mode (broker + controller)."""

    name = "kafka"

    @property
    def properties(self) -> Path:
        return self.dir / "server.properties"

    @property
    def marker(self) -> str | None:
        return str(self.properties)

    def provision(self) -> None:
        self._write_log4j()
        self._write_properties()
        if (self.dir / "data" / "meta.properties").exists():
            return
        cluster_id = self.secrets.kafka_cluster_id
        run([_java(), "-cp", f"{self.jars / 'lib'}/*", *self._jvm_options(),
             "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
             "-c", str(self.properties),
             "--standalone"])

    def _write_properties(self) -> None:
        host, port, ctl = self.settings.host, self.port, self.settings.ports.controller
        self.properties.write_text("\n".join([
            "# written by cdc-facts local",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={host}:{ctl}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.dir / 'data'}",
            "num.partitions=1",
            "default.replication.factor=1",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "log.retention.hours=168",
            "",
        ]))

    def start(self) -> None:
        spawn([_java(), "-cp", f"{self.jars / 'lib'}/*", *self._jvm_options(), "kafka.Kafka",
               str(self.properties)], log=self.log, pid_file=self.pid_file)

    def ready(self) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0,
                             "socket.connection.setup.timeout.ms": 2000})
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False
        return bool(metadata.brokers)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.settings.host}:{self.port}"

    def endpoint(self) -> str:
        return self.bootstrap_servers

    def env(self) -> dict[str, str]:
        return {"CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers}


class ConnectService(_JavaService):
    """A Kafka Connect distributed worker with the Debezium plugins on its plugin.path."""

    name = "connect"

    @property
    def properties(self) -> Path:
        return self.dir / "connect-distributed.properties"

    @property
    def marker(self) -> str | None:
        return str(self.properties)

    def provision(self) -> None:
        self._write_log4j()
        host, port = self.settings.host, self.port
        kafka = f"{host}:{self.settings.ports.kafka}"
        self.properties.write_text("\n".join([
            "# written by cdc-facts local",
            f"bootstrap.servers={kafka}",
            "group.id=cdc-facts-connect",
            "key.converter=org.apache.kafka.connect.json.JsonConverter",
            "value.converter=org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable=true",
            "value.converter.schemas.enable=true",
            "config.storage.topic=_connect-configs",
            "offset.storage.topic=_connect-offsets",
            "status.storage.topic=_connect-status",
            "config.storage.replication.factor=1",
            "offset.storage.replication.factor=1",
            "status.storage.replication.factor=1",
            "offset.flush.interval.ms=1000",
            f"listeners=http://{host}:{port}",
            f"rest.advertised.host.name={host}",
            f"rest.advertised.port={port}",
            f"plugin.path={self.jars / 'plugins'}",
            "plugin.discovery=hybrid_warn",
            "connector.client.config.override.policy=All",
            "topic.creation.enable=true",
            "",
        ]))

    def start(self) -> None:
        spawn([_java(), "-cp", f"{self.jars / 'lib'}/*", *self._jvm_options(),
               "org.apache.kafka.connect.cli.ConnectDistributed", str(self.properties)],
              log=self.log, pid_file=self.pid_file)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/connector-plugins", timeout=3) as resp:  # noqa: S310
                plugins = json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        classes = {p.get("class") for p in plugins}
        return all(c in classes for c in DEBEZIUM_CONNECTORS)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def endpoint(self) -> str:
        return self.url

    def env(self) -> dict[str, str]:
        return {"CDC_FACTS_CONNECT_URL": self.url}


def _java_major(java: Path) -> int:
    release = java.parent.parent / "release"
    try:
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                return int(line.split("=", 1)[1].strip('"').split(".")[0])
    except (OSError, ValueError):
        pass
    return 0


def registry_java() -> str:
    """Apicurio Registry 3.x needs Java 21+: the newest JDK under /usr/lib/jvm, or
    ``$CDC_FACTS_REGISTRY_JAVA_HOME``."""
    explicit = os.environ.get("CDC_FACTS_REGISTRY_JAVA_HOME")
    homes = [Path(explicit)] if explicit else [Path(p) for p in glob.glob("/usr/lib/jvm/*")]
    javas = [h / "bin" / "java" for h in homes if (h / "bin" / "java").exists()]
    best = max(javas, key=_java_major, default=None)
    if best is None or _java_major(best) < 21:
        raise LocalStackError(
            "Apicurio Registry 3 needs Java 21 or newer, and none was found under /usr/lib/jvm",
            hint="install a JDK 21+ (e.g. Temurin) and/or set CDC_FACTS_REGISTRY_JAVA_HOME",
            service="registry",
        )
    return str(best)


class RegistryService(_JavaService):
    """Apicurio Registry 3 (Quarkus fast-jar, in-memory storage)."""

    name = "registry"

    @property
    def marker(self) -> str | None:
        return str(self.jars / "quarkus-run.jar")

    def check_tools(self) -> None:
        registry_java()

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        spawn([registry_java(), f"-Xmx{self.settings.heap}", f"-Dquarkus.http.port={self.port}",
               f"-Dquarkus.http.host={self.settings.host}", "-Dquarkus.log.level=WARN",
               # its management interface defaults to 0.0.0.0:9000: keep it on loopback
               f"-Dquarkus.management.host={self.settings.host}",
               f"-Dquarkus.management.port={self.settings.ports.registry_management}",
               "-Dapicurio.rest.deletion.artifact.enabled=true",
               "-jar", str(self.jars / "quarkus-run.jar")],
              log=self.log, pid_file=self.pid_file, cwd=self.dir)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=3) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}/apis/ccompat/v7"

    def endpoint(self) -> str:
        return self.url

    def env(self) -> dict[str, str]:
        return {"CDC_FACTS_REGISTRY_URL": self.url}
