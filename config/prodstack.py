"""`make prod`: the production topology on one machine, under Debian's supervisor.

nginx (TLS, HTTP/2, WebSocket upgrade, gzip, limits) in front of ``WEB_PROCESSES`` ASGI
processes; ``WORKER_PROCESSES`` Celery workers (the chain queue on all but one, mail on
that one); one guarded beat. Before anything starts: the prod settings must load (they
refuse without their required variables), then migrations and ``collectstatic`` run. The
rendered configuration, logs, sockets and a self-signed certificate (made when
``TLS_CERT_FILE``/``TLS_KEY_FILE`` are not given) live in ``PROD_DIR``; two nodes are two
``PROD_DIR``s with their own ports, sharing PostgreSQL and Redis. Chains are reached by
their RPC URLs (``CHAIN_RPC_*``); nothing here starts a chain.

The programs run from a release, ``PROD_DIR/current``: a symlink to a copy of the
checkout under ``PROD_DIR/releases/``, so ``make prod-reload`` (``config/prodreload.py``)
can deploy a new copy and still return to the one that ran before.

    python -m config.prodstack            # release, render, migrate, collect, run supervisord
    python -m config.prodstack --render   # render the configuration only
    python -m config.prodstack --prepare  # release, render, check, migrate, collect (systemd)
    python -m config.prodreload           # make prod-reload: health-gated rolling restart
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

BASE_DIR = Path(__file__).resolve().parent.parent
DEPLOY = BASE_DIR / "deploy"
DEFAULT_POOL_MAX = 10
# Releases kept in PROD_DIR/releases (the current and the previous one are always kept).
RELEASES_KEPT = 5
# Not part of a release: version control, installed packages, runtime files (the default
# PROD_DIR is under var/), caches.
RELEASE_SKIPPED_TOP = {".git", ".venv", "node_modules", "var", "test-artifacts"}
RELEASE_SKIPPED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"
)
MANIFEST = "staticfiles.json"


@dataclass(frozen=True)
class Topology:
    """What ``make prod`` runs, from the environment (README: "Production topology")."""

    prod_dir: Path
    node_name: str
    bind: str
    http_port: int
    https_port: int
    server_name: str
    web_processes: int
    worker_processes: int
    cert_file: Path
    key_file: Path

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Topology:
        prod_dir = Path(env.get("PROD_DIR") or BASE_DIR / "var" / "prod").resolve()
        cert = env.get("TLS_CERT_FILE", "")
        key = env.get("TLS_KEY_FILE", "")
        if bool(cert) != bool(key):
            raise SystemExit("TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither.")
        topology = cls(
            prod_dir=prod_dir,
            node_name=env.get("NODE_NAME", "node1"),
            bind=env.get("PROD_BIND", "127.0.0.1"),
            http_port=int(env.get("PROD_HTTP_PORT", "8080")),
            https_port=int(env.get("PROD_HTTPS_PORT", "8443")),
            server_name=env.get("PROD_SERVER_NAME", "localhost"),
            web_processes=int(env.get("WEB_PROCESSES", "2")),
            worker_processes=int(env.get("WORKER_PROCESSES", "2")),
            cert_file=Path(cert) if cert else prod_dir / "tls" / "cert.pem",
            key_file=Path(key) if key else prod_dir / "tls" / "key.pem",
        )
        if topology.web_processes < 1 or topology.worker_processes < 2:
            raise SystemExit("WEB_PROCESSES must be at least 1, WORKER_PROCESSES at least 2.")
        return topology

    @property
    def chain_workers(self) -> int:
        return self.worker_processes - 1


def self_signed_certificate(cert_file: Path, key_file: Path, names: list[str]) -> None:
    """A P-256 certificate for `names` (DNS names or IP addresses), valid one year."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def release_create(topology: Topology, source: Path) -> Path:
    """Copy the code at `source` into a new ``PROD_DIR/releases/<UTC time>``; its path.

    The copy holds the code, the built assets and compiled translations and the deploy
    templates; the virtualenv stays where it is (the programs run ``sys.executable``).
    """
    releases = topology.prod_dir / "releases"
    releases.mkdir(parents=True, exist_ok=True)
    release = releases / datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")

    def skipped(folder: str, names: list[str]) -> set[str]:
        top = RELEASE_SKIPPED_TOP & set(names) if Path(folder) == source else set()
        return top | RELEASE_SKIPPED(folder, names)

    shutil.copytree(source, release, symlinks=True, ignore=skipped)
    return release


def release_current(topology: Topology) -> Path | None:
    """The release ``PROD_DIR/current`` points at, or None before the first start."""
    link = topology.prod_dir / "current"
    return link.resolve() if link.is_symlink() else None


def release_activate(topology: Topology, release: Path) -> None:
    """Point ``PROD_DIR/current`` at `release` in one rename (never absent meanwhile).

    Processes started afterwards run it; running ones keep the code they imported.
    """
    link = topology.prod_dir / "current"
    new = topology.prod_dir / "current.new"
    new.unlink(missing_ok=True)
    new.symlink_to(release)
    os.replace(new, link)


def release_prune(topology: Topology, keep: set[Path]) -> None:
    """Delete all but the newest RELEASES_KEPT releases, never one of `keep`."""
    releases = sorted((topology.prod_dir / "releases").iterdir(), reverse=True)
    for release in releases[RELEASES_KEPT:]:
        if release not in keep:
            shutil.rmtree(release, ignore_errors=True)


def manifest_keep(static_root: Path, release: Path) -> None:
    """Keep the static-files manifest `release` was collected with, in the release.

    Static files have hashed names, so every release's files live side by side in
    STATIC_ROOT; only the manifest (name to hashed name) is overwritten by a collect.
    """
    shutil.copy2(static_root / MANIFEST, release / MANIFEST)


def manifest_restore(static_root: Path, release: Path) -> None:
    """Put back the static-files manifest of `release` (a rollback)."""
    if (release / MANIFEST).exists():
        shutil.copy2(release / MANIFEST, static_root / MANIFEST)


def kill_leftovers(prod_dir: Path) -> list[int]:
    """SIGKILL every process started for `prod_dir` that outlived its supervisord (its
    programs run in process groups of their own, so a killed supervisord leaves them); the
    pids. Found by ``PROD_DIR`` in their environment: a Celery worker's command line does
    not name the folder."""
    import signal

    mark = f"PROD_DIR={prod_dir}".encode()
    killed = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return killed


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def render(
    topology: Topology,
    *,
    static_root: Path,
    max_body: int,
    down: frozenset[int] = frozenset(),
    deploy: Path = DEPLOY,
) -> Path:
    """Write nginx.conf and supervisord.conf into PROD_DIR; the supervisord.conf path.

    The templates come from `deploy` (a release's ``deploy/``); the web processes in
    `down` are out of nginx's rotation (``make prod-reload`` restarts them).
    """
    root = topology.prod_dir
    for sub in ("logs", "run", "nginx/tmp", "tls"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if not topology.cert_file.exists():
        self_signed_certificate(
            topology.cert_file, topology.key_file, [topology.server_name, "127.0.0.1"]
        )
    nginx = nginx_binary()
    user_line = ""
    user = os.environ.get("NGINX_USER") or ("www-data" if os.geteuid() == 0 else "")
    if user:
        # nginx's workers leave root; they read static files and write their temp files.
        user_line = f"user {user};"
        if os.geteuid() == 0:
            for folder in (root / "nginx" / "tmp", *(root / "nginx" / "tmp").iterdir()):
                shutil.chown(folder, user=user)
    upstream = "\n".join(
        f"        server unix:{root}/run/web-{i}.sock max_fails=1 fail_timeout=2s"
        f"{' down' if i in down else ''};"
        for i in range(topology.web_processes)
    )
    metrics = "\n".join(
        f"        location = /metrics/web-{i} {{\n"
        f"            proxy_pass http://unix:{root}/run/web-{i}.sock:/metrics;\n"
        f"        }}"
        for i in range(topology.web_processes)
    )
    values = {
        "prod_dir": str(root),
        "python": sys.executable,
        "nginx": nginx,
        "node_name": topology.node_name,
        "bind": topology.bind,
        "http_port": str(topology.http_port),
        "https_port": str(topology.https_port),
        "server_name": topology.server_name,
        "cert_file": str(topology.cert_file),
        "key_file": str(topology.key_file),
        "static_root": str(static_root),
        "max_body": str(max_body),
        "user_line": user_line,
        "upstream_servers": upstream,
        "metrics_locations": metrics,
        "web_processes": str(topology.web_processes),
        "chain_workers": str(topology.chain_workers),
        # Web processes pool their PostgreSQL connections (README "Production topology":
        # the size against max_connections) instead of one per request thread. Celery's
        # children are single-threaded and forked: one plain connection each.
        "web_pool_max": os.environ.get("DB_POOL_MAX") or str(DEFAULT_POOL_MAX),
    }
    nginx_conf = root / "nginx" / "nginx.conf"
    template = (deploy / "nginx" / "nginx.conf.template").read_text()
    nginx_conf.write_text(Template(template).substitute(values))
    supervisord_conf = root / "supervisord.conf"
    template = (deploy / "supervisor" / "supervisord.conf.template").read_text()
    supervisord_conf.write_text(Template(template).substitute(values))
    return supervisord_conf


def check_migrate_collect() -> None:
    """The deploy checks, then migrations, then static files (Django must be set up)."""
    from django.core.management import call_command

    call_command("check", "--deploy", "--fail-level", "ERROR")
    call_command("migrate", "--noinput", verbosity=1)
    call_command("collectstatic", "--noinput", verbosity=0)


def environment() -> Topology:
    """The prod settings' environment for this process (and the programs it starts), and
    the node's topology from it."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.prod"
    os.environ.setdefault("TRUSTED_PROXY_NETWORKS", "127.0.0.1/32")
    # Every release shares the checkout's runtime folder (file cache and broker, media),
    # not its own copy's var/.
    os.environ.setdefault("VAR_DIR", str(BASE_DIR / "var"))
    return Topology.from_env(dict(os.environ))


def django_setup() -> bool:
    """Set Django up with the prod settings; False (saying why) when they refuse."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        print(f"make prod refused: {exc}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--render", action="store_true", help="render the configuration only")
    steps.add_argument(
        "--prepare",
        action="store_true",
        help="release, render, check, migrate and collect static files, then stop"
        " (systemd's first unit)",
    )
    steps.add_argument(
        "--release-checks",
        action="store_true",
        help="check, migrate and collect static files for the release this runs from"
        " (a step of make prod-reload)",
    )
    args = parser.parse_args(argv)
    topology = environment()
    if not django_setup():
        return 2
    from django.conf import settings

    static_root = Path(settings.STATIC_ROOT)
    if args.release_checks:
        check_migrate_collect()
        return 0
    if not args.render:
        release = release_create(topology, BASE_DIR)
        release_activate(topology, release)
    supervisord_conf = render(
        topology, static_root=static_root, max_body=settings.REQUEST_MAX_BYTES
    )
    if args.render:
        print(supervisord_conf)
        return 0
    check_migrate_collect()
    manifest_keep(static_root, release)
    release_prune(topology, keep={release})
    if args.prepare:
        return 0
    supervisord = shutil.which("supervisord")
    if supervisord is None:
        print("supervisord not found: apt-get install supervisor (make ops-deps)", file=sys.stderr)
        return 2
    print(
        f"P2P Swap ({topology.node_name}): https://{topology.server_name}:{topology.https_port}/"
        f"  ({topology.web_processes} web, {topology.worker_processes} workers, 1 beat, nginx;"
        f" logs in {topology.prod_dir / 'logs'}; supervisorctl -c {supervisord_conf};"
        f" release {release.name})",
        flush=True,
    )
    os.execv(supervisord, [supervisord, "-n", "-c", str(supervisord_conf)])  # noqa: S606
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
