"""Production. Refuses to start without its secrets and tightens transport security."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

# Required from the environment: no default may stand in for these in production.
# EMAIL_URL: without it, password-reset links would go to the console log.
# METRICS_TOKEN: without it, /metrics would rest on the client address alone.
for _name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "EMAIL_URL", "METRICS_TOKEN"):
    if not env.str(_name, default=""):
        raise ImproperlyConfigured(f"{_name} must be set in the environment for production.")
SECRET_KEY = env.str("SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure-"):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
if EMAIL_BACKEND.endswith(("console.EmailBackend", "locmem.EmailBackend", "dummy.EmailBackend")):
    raise ImproperlyConfigured("EMAIL_URL must name a real mail server (smtp:// or smtp+tls://).")
if len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 random characters.")
# JWT_SIGNING_KEY (HS256) must be at least as long as the hash: 32 bytes.
if len(JWT_SIGNING_KEY.encode()) < 32:
    raise ImproperlyConfigured("JWT_SIGNING_KEY must be at least 32 bytes.")
# Local anvil chains are never part of production unless explicitly asked for.
CHAINS_LOCAL_ENABLED = env.bool("CHAINS_LOCAL_ENABLED", default=False)
for _network in CHAIN_NETWORKS:
    if _network["name"].startswith("local-"):
        _network["enabled"] = CHAINS_LOCAL_ENABLED
# The CSP follows: only the networks enabled here.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] = connect_sources(
    SITE_URL, CHAIN_NETWORKS, bool(WALLETCONNECT_PROJECT_ID)
)

# SECURE_SSL_REDIRECT: redirect http to https (turn off only behind a proxy that does it).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# SECURE_HSTS_SECONDS: HSTS max-age.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
# STAFF_MFA_REQUIRED: the admin needs a session that passed 2FA (off only by explicit choice).
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=True)
CSRF_COOKIE_SECURE = True
