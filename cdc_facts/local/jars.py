"""Resolve the stack's jars from Maven Central with `mvn`, into a cache outside git."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from cdc_facts.errors import LocalStackError
from cdc_facts.local.processes import require_tool
from cdc_facts.local.versions import POM, stack_versions

_MARKER = ".resolved"
#: Seconds Maven may take to download the jars (a few hundred MB on the first run).
MAVEN_TIMEOUT = 15 * 60


def stack_dir(cache: Path) -> Path:
    """The cache folder for the pinned versions: a version bump resolves into a new one."""
    v = stack_versions()
    return cache / f"stack-kafka{v.kafka}-debezium{v.debezium}"


def registry_dir(cache: Path) -> Path:
    return cache / f"apicurio-{stack_versions().apicurio}"


def is_resolved(target: Path) -> bool:
    return (target / _MARKER).exists()


def resolve(cache: Path, *, registry: bool = False,
            progress: Callable[[str], None] = lambda _msg: None) -> Path:
    """Make sure the jars are in the cache; download only what is missing.

    Returns the stack folder, which holds ``lib/`` (Kafka and Connect) and ``plugins/``
    (Debezium). With ``registry``, Apicurio is resolved into :func:`registry_dir`.
    """
    target = stack_dir(cache)
    if not is_resolved(target):
        progress("resolving Kafka, Kafka Connect and Debezium jars with Maven (first run only)")
        _mvn(target, profiles=[])
    if registry and not is_resolved(registry_dir(cache)):
        progress("resolving Apicurio Registry with Maven (first run only)")
        _mvn(registry_dir(cache), profiles=["registry"], registry_only=True)
    return target


def _mvn(target: Path, *, profiles: list[str], registry_only: bool = False) -> None:
    mvn = require_tool("mvn", hint="install Maven (Debian: `apt-get install maven`)")
    require_tool("java", hint="install a JDK 17+ (Debian: `apt-get install openjdk-17-jdk`)")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    # --strict-checksums: a corrupt or tampered download fails instead of being used
    argv = [mvn, "-B", "-q", "--strict-checksums", "-f", str(POM), "generate-resources",
            f"-Dstack.dir={staging}"]
    if profiles:
        argv.append("-P" + ",".join(profiles))
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                timeout=MAVEN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise LocalStackError(
            f"Maven did not finish resolving the stack's jars in {MAVEN_TIMEOUT // 60} minutes",
            hint="check the network access to Maven Central (a proxy goes in "
            "~/.m2/settings.xml) and retry `cdc-facts local up`",
            service="maven", log_tail=_output_tail(exc.stdout, exc.stderr),
        ) from None
    if result.returncode != 0:
        raise LocalStackError(
            "Maven could not resolve the stack's jars",
            hint="check the network access to Maven Central and retry `cdc-facts local up`",
            service="maven", log_tail=_output_tail(result.stdout, result.stderr),
        )
    if registry_only:
        staging = staging / "apicurio"
    (staging / _MARKER).write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    shutil.rmtree(target.with_name(target.name + ".partial"), ignore_errors=True)


def _output_tail(*outputs: str | bytes | None) -> list[str]:
    text = "".join(o.decode(errors="replace") if isinstance(o, bytes) else (o or "")
                   for o in outputs)
    return text.strip().splitlines()[-20:]
