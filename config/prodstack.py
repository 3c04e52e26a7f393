"""`make prod`: the production topology on one machine, under Debian's supervisor.

nginx (TLS, HTTP/2, WebSocket upgrade, gzip, limits) in front of ``WEB_PROCESSES`` ASGI
processes; ``WORKER_PROCESSES`` Celery workers (the chain queue on all but one, mail on
that one); one guarded beat. Before anything starts: the prod settings must load (they
refuse without their required variables), then migrations and ``collectstatic`` run. The
rendered configuration, logs, sockets and a self-signed certificate (made when
``TLS_CERT_FILE``/``TLS_KEY_FILE`` are not given) live in ``PROD_DIR``; two nodes are two
``PROD_DIR``s with their own ports, sharing PostgreSQL and Redis. Chains are reached by
their RPC URLs (``CHAIN_RPC_*``); nothing here starts a chain.

    python -m config.prodstack            # render, migrate, collect, then run supervisord
    python -m config.prodstack --render   # render the configuration only
    python -m config.prodstack --prepare  # render, check, migrate, collect (systemd's first step)
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


def render(topology: Topology, *, static_root: Path, max_body: int) -> Path:
    """Write nginx.conf and supervisord.conf into PROD_DIR; the supervisord.conf path."""
    root = topology.prod_dir
    for sub in ("logs", "run", "nginx/tmp", "tls"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if not topology.cert_file.exists():
        self_signed_certificate(
            topology.cert_file, topology.key_file, [topology.server_name, "127.0.0.1"]
        )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    user_line = ""
    user = os.environ.get("NGINX_USER") or ("www-data" if os.geteuid() == 0 else "")
    if user:
        # nginx's workers leave root; they read static files and write their temp files.
        user_line = f"user {user};"
        if os.geteuid() == 0:
            for folder in (root / "nginx" / "tmp", *(root / "nginx" / "tmp").iterdir()):
                shutil.chown(folder, user=user)
    upstream = "\n".join(
        f"        server unix:{root}/run/web-{i}.sock max_fails=1 fail_timeout=2s;"
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
        "base_dir": str(BASE_DIR),
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
    template = (DEPLOY / "nginx" / "nginx.conf.template").read_text()
    nginx_conf.write_text(Template(template).substitute(values))
    supervisord_conf = root / "supervisord.conf"
    template = (DEPLOY / "supervisor" / "supervisord.conf.template").read_text()
    supervisord_conf.write_text(Template(template).substitute(values))
    return supervisord_conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--render", action="store_true", help="render the configuration only")
    steps.add_argument(
        "--prepare",
        action="store_true",
        help="render, check, migrate and collect static files, then stop (systemd's first unit)",
    )
    args = parser.parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.prod"
    os.environ.setdefault("TRUSTED_PROXY_NETWORKS", "127.0.0.1/32")
    topology = Topology.from_env(dict(os.environ))

    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        print(f"make prod refused: {exc}", file=sys.stderr)
        return 2
    from django.conf import settings
    from django.core.management import call_command

    supervisord_conf = render(
        topology, static_root=Path(settings.STATIC_ROOT), max_body=settings.REQUEST_MAX_BYTES
    )
    if args.render:
        print(supervisord_conf)
        return 0
    call_command("check", "--deploy", "--fail-level", "ERROR")
    call_command("migrate", "--noinput", verbosity=1)
    call_command("collectstatic", "--noinput", verbosity=0)
    if args.prepare:
        return 0
    supervisord = shutil.which("supervisord")
    if supervisord is None:
        print("supervisord not found: apt-get install supervisor (make ops-deps)", file=sys.stderr)
        return 2
    print(
        f"P2P Swap ({topology.node_name}): https://{topology.server_name}:{topology.https_port}/"
        f"  ({topology.web_processes} web, {topology.worker_processes} workers, 1 beat, nginx;"
        f" logs in {topology.prod_dir / 'logs'}; supervisorctl -c {supervisord_conf})",
        flush=True,
    )
    os.execv(supervisord, [supervisord, "-n", "-c", str(supervisord_conf)])  # noqa: S606
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
