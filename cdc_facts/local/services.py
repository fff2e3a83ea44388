"""The stack's services, each a thin wrapper over one real process."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
from pathlib import Path

from cdc_facts.errors import LocalStackError
from cdc_facts.local.processes import (
    pid_alive,
    read_pid,
    run,
    spawn,
    terminate,
)
from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.settings import LocalStackSettings


class BaseService:
    """One process of the stack. Subclasses say how to provision, start and probe it."""

    name = ""
    #: Signal that asks the process to shut down cleanly.
    stop_signal = signal.SIGTERM

    def __init__(self, settings: LocalStackSettings, secrets: StackSecrets) -> None:
        self.settings = settings
        self.secrets = secrets
        self.dir = settings.service_dir(self.name)
        self.log = settings.log_file(self.name)
        self.pid_file = settings.pid_file(self.name)

    @property
    def port(self) -> int:
        return int(getattr(self.settings.ports, self.name))

    @property
    def marker(self) -> str | None:
        """Text the service's command line holds: tells it from another process that got
        its pid, for pid files written before they held start times."""
        return None

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_file, self.marker)

    def running(self) -> bool:
        return pid_alive(self.pid)

    def check_tools(self) -> None:
        """Raise with a remedy when a binary this service needs is missing."""

    def provision(self) -> None:
        """Create the service's state on first start (idempotent)."""

    def start(self) -> None:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def bootstrap(self) -> None:
        """Work to do once the service is ready (roles, databases). Idempotent."""

    def stop(self) -> bool:
        return terminate(self.pid_file, timeout=30.0, marker=self.marker)

    def endpoint(self) -> str:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}


# --- PostgreSQL --------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL under /usr/lib/postgresql, or $CDC_FACTS_PG_BIN."""
    explicit = os.environ.get("CDC_FACTS_PG_BIN")
    candidates = [explicit] if explicit else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
    )
    for candidate in reversed(candidates):
        if candidate and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    raise LocalStackError(
        "no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin",
        hint="install them (Debian: `apt-get install postgresql-15`) or set CDC_FACTS_PG_BIN",
        service="postgres",
    )


def _service_user(preferred: str) -> str | None:
    """Databases refuse to run as root: run them as their packaged OS user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(preferred)
    except KeyError:
        raise LocalStackError(
            f"running as root, but the unprivileged OS user `{preferred}` does not exist",
            hint=f"create it (`useradd --system {preferred}`) or run as a normal user",
        ) from None
    return preferred


def unreachable_ancestor(path: Path, user: str) -> Path | None:
    """The first existing folder above ``path`` that the OS ``user`` cannot enter, if any."""
    uid = pwd.getpwnam(user).pw_uid
    for ancestor in reversed(path.absolute().parents):
        if not ancestor.exists():
            continue
        info = ancestor.stat()
        if info.st_uid != uid and not info.st_mode & 0o001:
            return ancestor
    return None


def _check_reachable(path: Path, user: str | None, service: str) -> None:
    """The service's OS user must be able to walk down to its state dir."""
    if user is None:
        return
    ancestor = unreachable_ancestor(path, user)
    if ancestor is not None:
        raise LocalStackError(
            f"{service} runs as the OS user `{user}`, who cannot enter {ancestor}",
            hint=f"choose a state dir the `{user}` user can reach (CDC_FACTS_HOME or "
            f"--home), or `chmod o+x {ancestor}`",
            service=service,
        )


#: The longest path a Unix socket may have on Linux (``sun_path`` holds 108 bytes, NUL
#: included).
MAX_SOCKET_PATH = 107


def _accepts(path: Path) -> bool:
    """Whether a server accepts connections on the Unix socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def check_socket_path(path: Path, service: str) -> None:
    """Raise before a database fails to start because its socket path is too long."""
    length = len(os.fsencode(path))
    if length > MAX_SOCKET_PATH:
        raise LocalStackError(
            f"the {service} socket path is {length} bytes long, over the {MAX_SOCKET_PATH} "
            f"a Unix socket allows: {path}",
            hint="keep the state dir on a shorter path: `--home /tmp/cdc-facts-stack` or "
            "CDC_FACTS_HOME=/tmp/cdc-facts-stack",
            service=service,
        )


def _private_dir(path: Path) -> None:
    """A folder only its owner (and root) may enter: it holds sockets or secrets."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, from the first byte on."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs),
                     *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


class PostgresService(BaseService):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: do not wait for replication clients

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def marker(self) -> str | None:
        return str(self.data)

    @property
    def user(self) -> str | None:
        return _service_user("postgres")

    def check_tools(self) -> None:
        postgres_bin_dir()

    @property
    def socket_dir(self) -> Path:
        return self.dir / "run"

    def provision(self) -> None:
        """Create the cluster on first start; write its settings (port...) on every start."""
        check_socket_path(self.socket_dir / f".s.PGSQL.{self.port}", self.name)
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._write_config()

    def _initdb(self) -> None:
        _check_reachable(self.dir, self.user, self.name)
        _private_dir(self.dir)
        # local (socket) connections are trusted: only the server's OS user and root may
        # enter the socket's folder
        _private_dir(self.socket_dir)
        pwfile = self.dir / "pwfile"
        try:
            _write_private(pwfile, self.secrets.postgres_admin + "\n")
            _chown_tree(self.dir, self.user)
            initdb = str(postgres_bin_dir() / "initdb")
            run([initdb, "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                 "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                 "--no-locale"], user=self.user)
        finally:
            pwfile.unlink(missing_ok=True)

    def _write_config(self) -> None:
        _private_dir(self.socket_dir)  # also for clusters made before it was private
        _chown(self.socket_dir, self.user)
        conf = self.data / "postgresql.auto.conf"
        conf.write_text(
            "# written by cdc-facts local\n"
            f"listen_addresses = '{self.settings.host}'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "wal_level = logical\n"
            "max_wal_senders = 20\n"
            "max_replication_slots = 20\n"
            "max_connections = 200\n"
            "shared_buffers = 256MB\n"
            "log_min_messages = warning\n"
        )
        _chown(conf, self.user)

    def start(self) -> None:
        postgres = str(postgres_bin_dir() / "postgres")
        spawn([postgres, "-D", str(self.data)], log=self.log, pid_file=self.pid_file,
              user=self.user)

    def ready(self) -> bool:
        pg_isready = str(postgres_bin_dir() / "pg_isready")
        try:
            run([pg_isready, "-h", self.settings.host, "-p", str(self.port), "-q"], timeout=10)
        except LocalStackError:
            return False
        return True

    def bootstrap(self) -> None:
        import psycopg  # the local adapter's own dependency

        pw = self.secrets.postgres_cdc
        with psycopg.connect(self.admin_dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'cdc'").fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(f"{verb} ROLE cdc WITH LOGIN REPLICATION PASSWORD '{pw}'")  # noqa: S608
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'shop'").fetchone():
                conn.execute("CREATE DATABASE shop OWNER cdc")

    def stop(self) -> bool:
        return terminate_with(self.pid_file, self.stop_signal, marker=self.marker)

    def admin_dsn(self, database: str = "shop") -> str:
        return (f"postgresql://postgres:{self.secrets.postgres_admin}@{self.settings.host}:"
                f"{self.port}/{database}")

    def endpoint(self) -> str:
        return f"postgresql://{self.settings.host}:{self.port}/shop"

    def env(self) -> dict[str, str]:
        cdc = f"postgresql://cdc:{self.secrets.postgres_cdc}@{self.settings.host}:{self.port}/shop"
        return {
            "CDC_FACTS_POSTGRES_DSN": self.admin_dsn(),
            "CDC_FACTS_POSTGRES_CDC_DSN": cdc,
            "SHOP_DB_HOST": self.settings.host,
            "SHOP_DB_PORT": str(self.port),
            "SHOP_DB_PASSWORD": self.secrets.postgres_cdc,
        }


def terminate_with(pid_file: Path, sig: signal.Signals, timeout: float = 30.0,
                   marker: str | None = None) -> bool:
    """Ask the main process (not its group) to stop with ``sig``, then fall back to SIGKILL."""
    pid = read_pid(pid_file, marker)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return terminate(pid_file, timeout=timeout, marker=marker)


# --- MariaDB -----------------------------------------------------------------------------


def _mariadb_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                       else None)
        if found:
            return found
    raise LocalStackError(
        f"MariaDB is not installed ({names[0]} not found)",
        hint="`make` installs it, or run `apt-get install mariadb-server`",
        service="mariadb",
    )


class MariaDbService(BaseService):
    name = "mariadb"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def marker(self) -> str | None:
        return str(self.data)

    @property
    def socket(self) -> Path:
        return self.dir / "run" / "mariadb.sock"

    @property
    def user(self) -> str | None:
        return _service_user("mysql")

    def check_tools(self) -> None:
        _mariadb_binary("mariadbd", "mysqld")
        _mariadb_binary("mariadb-install-db", "mysql_install_db")

    def provision(self) -> None:
        check_socket_path(self.socket, self.name)
        _private_dir(self.socket.parent)  # root connects over this socket without a password
        _chown(self.socket.parent, self.user)
        if (self.data / "mysql").exists():
            return
        _check_reachable(self.dir, self.user, self.name)
        _private_dir(self.dir)
        for sub in ("data", "run", "binlog"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        _chown_tree(self.dir, self.user)
        install = _mariadb_binary("mariadb-install-db", "mysql_install_db")
        argv = [install, "--no-defaults", f"--datadir={self.data}",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if self.user:
            argv.append(f"--user={self.user}")
        run(argv)

    def start(self) -> None:
        server = _mariadb_binary("mariadbd", "mysqld")
        argv = [server, "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
                f"--bind-address={self.settings.host}", f"--socket={self.socket}",
                f"--pid-file={self.dir / 'run' / 'mariadb.pid'}",
                f"--log-bin={self.dir / 'binlog' / 'mariadb-bin'}", "--binlog-format=ROW",
                "--binlog-row-image=FULL", "--server-id=1", "--skip-name-resolve",
                "--innodb-buffer-pool-size=128M", "--expire-logs-days=2"]
        if self.user:
            argv.append(f"--user={self.user}")
        spawn(argv, log=self.log, pid_file=self.pid_file)

    def _connect_root(self) -> object:
        import pymysql

        try:
            return pymysql.connect(unix_socket=str(self.socket), user="root",
                                   password=self.secrets.mariadb_root, autocommit=True)
        except pymysql.err.OperationalError:
            # fresh datadir: root has no password yet
            return pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True)

    def ready(self) -> bool:
        import pymysql

        # pymysql leaves its Unix socket open when the connect itself fails (it closes
        # only a connected one), which surfaces later as an unclosed-socket warning: ask
        # with a socket of our own until the server accepts.
        if not _accepts(self.socket):
            return False
        try:
            conn = self._connect_root()
        except pymysql.err.Error:
            return False
        conn.close()  # type: ignore[attr-defined]
        return True

    def bootstrap(self) -> None:
        conn = self._connect_root()
        root_pw, cdc_pw = self.secrets.mariadb_root, self.secrets.mariadb_cdc
        statements = [
            f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{root_pw}'",
            f"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{root_pw}'",
            f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{root_pw}'",
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
            "CREATE DATABASE IF NOT EXISTS shop",
            f"CREATE USER IF NOT EXISTS 'cdc'@'%' IDENTIFIED BY '{cdc_pw}'",
            f"ALTER USER 'cdc'@'%' IDENTIFIED BY '{cdc_pw}'",
            "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT "
            "ON *.* TO 'cdc'@'%'",
            "GRANT ALL PRIVILEGES ON shop.* TO 'cdc'@'%'",
        ]
        with conn.cursor() as cursor:  # type: ignore[attr-defined]
            for statement in statements:
                cursor.execute(statement)
        conn.close()  # type: ignore[attr-defined]

    def endpoint(self) -> str:
        return f"mysql://{self.settings.host}:{self.port}/shop"

    def env(self) -> dict[str, str]:
        host, port = self.settings.host, self.port
        return {
            "CDC_FACTS_MARIADB_DSN": f"mysql://root:{self.secrets.mariadb_root}@{host}:{port}/shop",
            "CDC_FACTS_MARIADB_CDC_DSN": f"mysql://cdc:{self.secrets.mariadb_cdc}@{host}:{port}/shop",
        }
