"""Settings shared by every environment.

Every environment variable the project reads is read here, once, with its
default and a one-line comment. ``dev.py``, ``test.py`` and ``prod.py`` only
adjust; ``prod.py`` also refuses insecure defaults.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ

from config import schedules

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# Runtime files (SQLite database, file cache, Celery's file broker, beat schedule).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -----------------------------------------------------------------
# SECRET_KEY: signs sessions and tokens. Dev/test fall back to an insecure key; prod requires it.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 24)
# DEBUG: never true in prod.
DEBUG = env.bool("DEBUG", default=False)
# ALLOWED_HOSTS: comma-separated host names this site answers to.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# CSRF_TRUSTED_ORIGINS: comma-separated origins (scheme://host[:port]) allowed for unsafe requests.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# SITE_URL: the site's public base URL (e-mails, SIWE messages); never taken from a request header.
SITE_URL = env.str("SITE_URL", default=f"http://localhost:{env.int('PORT', default=8000)}")
# TRUSTED_PROXY_COUNT: reverse proxies in front of the app, each appending to X-Forwarded-For;
# 0 (default) trusts no forwarded header and the peer address is the client (core.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# TRUSTED_PROXY_NETWORKS: comma-separated CIDRs of those proxies; when set, wins over the count.
TRUSTED_PROXY_NETWORKS = env.list("TRUSTED_PROXY_NETWORKS", default=[])

INSTALLED_APPS = [
    # Django's admin; staff enter only through allauth's login (and 2FA): accounts.admin_site.
    "accounts.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "core.staticfiles.StaticFilesConfig",
    "django.contrib.sites",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "allauth",
    "allauth.account",
    "core",
    "accounts",
    "marketplace",
    "swaps",
    "escrow",
    "oracle",
    "chains",
    "ops",
    # accounts' sign-in: revocable refresh tokens and allauth's API for apps and SPAs.
    "rest_framework_simplejwt.token_blacklist",
    "allauth.headless",
    "allauth.mfa",
]

MIDDLEWARE = [
    "core.middleware.RequestContextMiddleware",
    "core.boundary.InputBoundaryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.CSPMiddleware",  # django-csp's, its headers built once
    "core.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.SessionIdleMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Sets the language cookie to the profile's language on a sign-in's response.
    "accounts.language.SignInLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.lockout.SignInLockoutMiddleware",
    "accounts.terms.TermsRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
SITE_ID = 1
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "csp.context_processors.nonce",
                "core.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# DATABASE_URL: PostgreSQL (postgres://user:pass@host:port/name) switches from the embedded SQLite.
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # DB_POOL_MAX: PostgreSQL connections each process pools (psycopg_pool, Django's
    # OPTIONS["pool"]), shared by its threads; 0: one persistent connection per thread instead.
    # The ASGI server runs each request in a thread of its own, so without a pool every request
    # opens a connection (and keeps it DB_CONN_MAX_AGE seconds): README "Performance".
    DB_POOL_MAX = env.int("DB_POOL_MAX", default=0)
    if DB_POOL_MAX > 0 and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses a pool with persistent ones
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_MAX,
            # DB_POOL_TIMEOUT: seconds a request waits for a free pooled connection, then fails.
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two processes never deadlock
                # upgrading read locks; WAL lets readers proceed during a write.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Redis: cache, channel layer, Celery broker, rate-limit store -----------
# REDIS_URL: redis://host:port/db moves the cache, channel layer, broker and rate limits to Redis.
REDIS_URL = env.str("REDIS_URL", default="")
# REDIS_KEY_PREFIX: namespaces every key this deployment writes to Redis.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="p2pswap")

CACHES: dict[str, dict]
CHANNEL_LAYERS: dict[str, dict]
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, with one connection pool and client per process (core/cache.py).
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
    # Redis pub/sub: a group message is one PUBLISH that each process receives once and
    # hands to its own sockets. The list-based RedisChannelLayer spends Redis round trips per
    # socket (group_add, group_discard, one pop per message) from a pool of 100 connections
    # per process: at 500 price sockets it raised MaxConnectionsError and dropped sockets
    # (README "Performance", bench/prices.py); its group membership also expires after a day.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Its subscriber reads in short polls (0.1 s), so redis-py 8's 5 s socket read
            # timeout never drops an idle socket, as it did under the list-based layer's 5 s
            # blocking pop (core/tests/test_channel_layer.py).
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}:asgi"},
        }
    }
else:
    # A file cache is shared by the web, worker and beat processes, unlike LocMem.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    # In-memory: live updates reach browsers only from code running in the web process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery -------------------------------------------------------------------
# CELERY_BROKER_URL: overrides the broker; default is REDIS_URL, else a file-system transport.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    for _dir in (_broker_dir, VAR_DIR / "celery-control"):
        _dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "celery-control"),
    }
elif REDIS_URL and CELERY_BROKER_URL == REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:"}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Two queues: "chain" (scans, reconciles, relayer sends, everything else) and "mail" (mail
# and Web Push), so a slow mail server never delays chain work. A worker names its queues
# with -Q (make run: both; make prod: one worker group each).
CELERY_TASK_DEFAULT_QUEUE = "chain"
CELERY_TASK_ROUTES = {
    "swaps.send_notification_email": {"queue": "mail"},
    "swaps.send_notification_push": {"queue": "mail"},
    "escrow.notify": {"queue": "mail"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = schedules.CELERY_BEAT_SCHEDULE

# --- Auth ---------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
# Usernames allauth may not generate or accept (display names have their own rule).
ACCOUNT_USERNAME_BLACKLIST = ["admin", "administrator", "staff", "support", "moderator", "root"]
# allauth asks this adapter for the client IP (its rate limits), so it follows TRUSTED_PROXY_*.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# ACCOUNT_RATE_LIMIT_LOGIN / _SIGNUP: allauth's per-IP limits for its sign-in and sign-up
# (pages and headless API), "N/period/key"; its other limits keep allauth's defaults.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("ACCOUNT_RATE_LIMIT_LOGIN", default="30/m/ip"),
    "signup": env.str("ACCOUNT_RATE_LIMIT_SIGNUP", default="20/m/ip"),
}
# SIGN_IN_LOCKOUT_ACCOUNT_FAILURES / _IP_FAILURES / _SECONDS: failed passwords for one account,
# or from one client IP, within the window that lock further attempts (429, Retry-After)
# until it ends (accounts.lockout).
SIGN_IN_LOCKOUT_ACCOUNT_FAILURES = env.int("SIGN_IN_LOCKOUT_ACCOUNT_FAILURES", default=5)
SIGN_IN_LOCKOUT_IP_FAILURES = env.int("SIGN_IN_LOCKOUT_IP_FAILURES", default=20)
SIGN_IN_LOCKOUT_SECONDS = env.int("SIGN_IN_LOCKOUT_SECONDS", default=900)
# STAFF_MFA_REQUIRED: staff enter the admin only in a session that passed 2FA (on in prod).
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=False)
# Second factors (allauth.mfa): authenticator apps (TOTP), security keys and passkeys
# (WebAuthn), and recovery codes once one of those is set up.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "P2P Swap"
# allauth headless (mobile apps and SPAs): mounted at allauth's default /_allauth/{browser,app}/v1/.
HEADLESS_ONLY = False
HEADLESS_FRONTEND_URLS: dict[str, str] = {}
# Apps signing in by e-mail get the same JWT pair as SIWE in the response's meta.
HEADLESS_TOKEN_STRATEGY = "accounts.headless.JwtPairTokenStrategy"
LOGIN_REDIRECT_URL = "/"
# TERMS_VERSION: the current terms of service; every account accepts it (at sign-up, at the
# first SIWE sign-in, and again whenever it changes) before using the site (accounts.terms).
TERMS_VERSION = env.str("TERMS_VERSION", default="2026-11")

# JWT_SIGNING_KEY: key that signs JWTs (HS256); defaults to SECRET_KEY.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)
# JWT_ACCESS_MINUTES / JWT_REFRESH_DAYS: lifetimes of access and refresh tokens.
JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=15)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=7)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# SIWE_NONCE_TTL_SECONDS: how long a SIWE nonce (and its message) may be used.
SIWE_NONCE_TTL_SECONDS = env.int("SIWE_NONCE_TTL_SECONDS", default=300)
# SIWE_STATEMENT: the human-readable line of every SIWE message.
SIWE_STATEMENT = env.str(
    "SIWE_STATEMENT", default="Sign in to P2P Swap. This request costs nothing and moves no funds."
)

# --- E-mail -------------------------------------------------------------------
# EMAIL_URL: smtp://user:pass@host:port (or smtp+tls://); default prints mail to the console.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
# DEFAULT_FROM_EMAIL: sender of every mail the site sends.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="P2P Swap <no-reply@localhost>")

# --- I18n ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("bn", "বাংলা")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names, so whitenoise can send year-long cache headers; gzip and brotli copies.
    "staticfiles": {"BACKEND": "core.staticfiles.StaticStorage"},
}
WHITENOISE_MAX_AGE = 60  # unhashed files only; hashed ones get a year (immutable)
# MEDIA_ROOT: uploaded public files (avatars); served by the accounts avatar view.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

# --- Security headers -------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# SESSION_IDLE_MINUTES: a browser session ends after this long without a request.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=60)
SESSION_COOKIE_AGE = (
    SESSION_IDLE_MINUTES * 60
)  # kept fresh by core.middleware.SessionIdleMiddleware
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A failed CSRF check answers in the API's JSON shape under /api/ (the error page elsewhere).
CSRF_FAILURE_VIEW = "core.views.csrf_failure"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        # Exact hosts only, filled in by connect_sources() once the networks are known.
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
# No report-only policy (django-csp reads it; set here so that every reader names it).
CONTENT_SECURITY_POLICY_REPORT_ONLY: dict | None = None
# WALLETCONNECT_PROJECT_ID: WalletConnect v2 (Reown) project id; when set, pages offer phone
# wallets by QR code or deep link, and the CSP admits WalletConnect's relay and verify hosts.
WALLETCONNECT_PROJECT_ID = env.str("WALLETCONNECT_PROJECT_ID", default="")
# The exact hosts WalletConnect's libraries call (Reown's CSP guidance), admitted only with a
# project id; no wildcard, so no other subdomain of theirs can be reached from our pages.
WALLETCONNECT_CONNECT_SOURCES = [
    *(
        f"https://{h}.walletconnect.{tld}"
        for h in ("rpc", "relay", "pulse", "keys", "notify", "echo", "push")
        for tld in ("com", "org")
    ),
    "wss://relay.walletconnect.com",
    "wss://relay.walletconnect.org",
    "https://api.web3modal.com",
    "https://api.web3modal.org",
]
if WALLETCONNECT_PROJECT_ID:
    _csp = CONTENT_SECURITY_POLICY["DIRECTIVES"]
    # Wallet logos come from many of their hosts; an image cannot send data back to script.
    _wc_images = [
        "https://*.walletconnect.com",
        "https://*.walletconnect.org",
        "https://*.reown.com",
    ]
    _csp["img-src"] += [*_wc_images, "https://*.web3modal.org"]
    _csp["frame-src"] = ["https://verify.walletconnect.com", "https://verify.walletconnect.org"]


def connect_sources(site_url: str, networks: list[dict], walletconnect: bool) -> list[str]:
    """CSP connect-src: this site (and its WebSocket origin), each enabled network's public
    RPC origin, and WalletConnect's hosts when configured. Never a bare scheme like wss:."""
    sources = ["'self'"]
    site = urlsplit(site_url)
    if site.netloc:
        sources.append(f"{'wss' if site.scheme == 'https' else 'ws'}://{site.netloc}")
    for network in networks:
        rpc = urlsplit(network.get("public_rpc_url") or "")
        if network.get("enabled") and rpc.scheme in ("http", "https", "ws", "wss") and rpc.netloc:
            sources.append(f"{rpc.scheme}://{rpc.netloc}")
    if walletconnect:
        sources += WALLETCONNECT_CONNECT_SOURCES
    return list(dict.fromkeys(sources))


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# --- API ------------------------------------------------------------------------
# API_THROTTLE_ANON / API_THROTTLE_USER: request rates per client ("N/second|minute|hour|day").
# API_THROTTLE_SWAP_WRITE: rate of swap creation, cancel and dispute messages, per user.
# API_THROTTLE_AUTH: rate of the sign-in, SIWE, token and sign-up endpoints, per client IP.
API_THROTTLE_RATES = {
    "anon": env.str("API_THROTTLE_ANON", default="120/minute"),
    "user": env.str("API_THROTTLE_USER", default="600/minute"),
    "swap_write": env.str("API_THROTTLE_SWAP_WRITE", default="30/minute"),
    "auth": env.str("API_THROTTLE_AUTH", default="20/minute"),
}
# API_JSON_MAX_BYTES: largest JSON body (every JSON endpoint; 413 above it).
API_JSON_MAX_BYTES = env.int("API_JSON_MAX_BYTES", default=256 * 1024)
# API_JSON_MAX_DEPTH: deepest nesting of arrays and objects accepted in a JSON body (400 above).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
REST_FRAMEWORK = {
    # JWT first, so an API request without credentials is a 401 with `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.ClientThrottle",
    ],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "P2P Swap Marketplace API",
    "DESCRIPTION": (
        "Non-custodial peer-to-peer marketplace settled by hash time-locked contracts. "
        'Every error has the shape {"detail": "...", "code": "..."}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation also documents the statuses the layers around its view can answer.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.document_framework_responses",
    ],
    # Two models have a "state" field: name their enums apart in the schema.
    "ENUM_NAME_OVERRIDES": {
        "SwapStateEnum": "swaps.models.Swap.State",
        "ListingStateEnum": "marketplace.models.Listing.State",
    },
}

# --- Chains ---------------------------------------------------------------------
# ICP_HOST: IC boundary node principals' balances are read from (answers are verified).
ICP_HOST = env.str("ICP_HOST", default="https://icp-api.io")
# ICP_ROOT_KEY: hex of the DER-encoded IC root key answers are verified against; empty means
# mainnet's key, pinned in chains/icp/certificate.py. Tests set the local test server's key.
ICP_ROOT_KEY = env.str("ICP_ROOT_KEY", default="")
# ICP_CERTIFICATE_MAX_AGE: seconds a certificate's time (or a query signature's) may be from now.
ICP_CERTIFICATE_MAX_AGE = env.float("ICP_CERTIFICATE_MAX_AGE", default=300.0)
# II_PROVIDER_URL: the Internet Identity window the sign-in and wallets pages open.
II_PROVIDER_URL = env.str("II_PROVIDER_URL", default="https://identity.ic0.app")
# II_CANISTER_ID: the canister whose canister signatures prove a principal.
II_CANISTER_ID = env.str("II_CANISTER_ID", default="rdmx6-jaaaa-aaaaa-aaadq-cai")
# II_NONCE_TTL_SECONDS: life of an Internet Identity sign-in or link nonce.
II_NONCE_TTL_SECONDS = env.int("II_NONCE_TTL_SECONDS", default=300)
# ICP_TOKENS: JSON list of ICRC-1 tokens shown for a linked principal (symbol, ledger, decimals).
ICP_TOKENS = env.json(
    "ICP_TOKENS",
    default=[{"symbol": "ICP", "ledger": "ryjl3-tyaaa-aaaaa-aaaba-cai", "decimals": 8}],
)
# ANVIL_A_PORT / ANVIL_B_PORT: ports of the two local anvil chains started by `make run`.
ANVIL_A_PORT = env.int("ANVIL_A_PORT", default=8545)
ANVIL_B_PORT = env.int("ANVIL_B_PORT", default=8546)
# CHAINS_LOCAL_ENABLED: include the local anvil networks local-a and local-b.
CHAINS_LOCAL_ENABLED = env.bool("CHAINS_LOCAL_ENABLED", default=True)
# <NAME>_RPC_URL (LOCAL_A_, LOCAL_B_, SEPOLIA_, MAINNET_): the server's JSON-RPC endpoint
# (may carry an API key; never shown to clients); a public network is enabled only when set.
# <NAME>_PUBLIC_RPC_URL: the RPC URL given to browsers and apps (local chains: the same URL).
CHAIN_NETWORKS = [
    {
        "name": "local-a",
        "chain_id": 31337,
        "rpc_url": env.str("LOCAL_A_RPC_URL", default=f"http://127.0.0.1:{ANVIL_A_PORT}"),
        "public_rpc_url": env.str(
            "LOCAL_A_PUBLIC_RPC_URL",
            default=env.str("LOCAL_A_RPC_URL", default=f"http://127.0.0.1:{ANVIL_A_PORT}"),
        ),
        "confirmations": 2,
        "block_time": 1,
        "explorer_url": "",
        "native_symbol": "ETH",
        "enabled": CHAINS_LOCAL_ENABLED,
    },
    {
        "name": "local-b",
        "chain_id": 31338,
        "rpc_url": env.str("LOCAL_B_RPC_URL", default=f"http://127.0.0.1:{ANVIL_B_PORT}"),
        "public_rpc_url": env.str(
            "LOCAL_B_PUBLIC_RPC_URL",
            default=env.str("LOCAL_B_RPC_URL", default=f"http://127.0.0.1:{ANVIL_B_PORT}"),
        ),
        "confirmations": 2,
        "block_time": 1,
        "explorer_url": "",
        "native_symbol": "ETH",
        "enabled": CHAINS_LOCAL_ENABLED,
    },
    {
        "name": "sepolia",
        "chain_id": 11155111,
        "rpc_url": env.str("SEPOLIA_RPC_URL", default=""),
        "public_rpc_url": env.str("SEPOLIA_PUBLIC_RPC_URL", default=""),
        "confirmations": 6,
        "block_time": 12,
        "explorer_url": "https://sepolia.etherscan.io",
        "native_symbol": "ETH",
        "enabled": bool(env.str("SEPOLIA_RPC_URL", default="")),
    },
    {
        "name": "mainnet",
        "chain_id": 1,
        "rpc_url": env.str("MAINNET_RPC_URL", default=""),
        "public_rpc_url": env.str("MAINNET_PUBLIC_RPC_URL", default=""),
        "confirmations": 12,
        "block_time": 12,
        "explorer_url": "https://etherscan.io",
        "native_symbol": "ETH",
        "enabled": bool(env.str("MAINNET_RPC_URL", default="")),
    },
]
CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] = connect_sources(
    SITE_URL, CHAIN_NETWORKS, bool(WALLETCONNECT_PROJECT_ID)
)
# CHAIN_RPC_TIMEOUT: seconds before a JSON-RPC call is given up.
CHAIN_RPC_TIMEOUT = env.float("CHAIN_RPC_TIMEOUT", default=5.0)
# CHAIN_SCAN_BATCH: most blocks read in one eth_getLogs call.
CHAIN_SCAN_BATCH = env.int("CHAIN_SCAN_BATCH", default=500)
# CHAIN_SCAN_LEASE_SECONDS: seconds a scan lease lasts unless renewed; the holder renews it
# every batch, so a killed worker blocks its network this long at most.
CHAIN_SCAN_LEASE_SECONDS = env.int("CHAIN_SCAN_LEASE_SECONDS", default=15)
# CHAIN_FOLLOW_POLL_SECONDS: how often the head follower (manage.py follow_chains) reads each
# network's head; 0 (default): a tenth of the network's block time, at least 0.1 s.
CHAIN_FOLLOW_POLL_SECONDS = env.float("CHAIN_FOLLOW_POLL_SECONDS", default=0.0)
# CHAIN_RPC_BATCH_MAX: most JSON-RPC calls sent in one HTTP batch request (providers cap it).
CHAIN_RPC_BATCH_MAX = env.int("CHAIN_RPC_BATCH_MAX", default=500)
# CHAIN_REORG_WINDOW: recent block hashes kept per network to notice reorgs.
CHAIN_REORG_WINDOW = env.int("CHAIN_REORG_WINDOW", default=128)
# CHAIN_CIRCUIT_THRESHOLD / _MAX_SECONDS: RPC failures before a network's circuit opens,
# and the longest it stays open (the pause doubles with each further failure from 2 s).
CHAIN_CIRCUIT_THRESHOLD = env.int("CHAIN_CIRCUIT_THRESHOLD", default=3)
CHAIN_CIRCUIT_MAX_SECONDS = env.int("CHAIN_CIRCUIT_MAX_SECONDS", default=300)
# Outside subscribers (dotted paths) called, inside the watcher's transaction, with each
# confirmed or orphaned event after the project's own (``chains.events`` wires and orders those).
CHAIN_EVENT_HOOKS: list[str] = []
# The relayer pays gas only for locks that belong to a swap on this platform.
RELAYER_LOCK_FILTER = "swaps.selectors.lock_belongs_to_swap"
# RELAYER_STUCK_SECONDS: a relayer transaction unmined this long is re-sent with higher fees.
RELAYER_STUCK_SECONDS = env.int("RELAYER_STUCK_SECONDS", default=60)

# --- Swaps ----------------------------------------------------------------------------
# SWAP_QUOTE_WINDOW_SECONDS: how long a new swap's price holds; the taker must lock within it.
SWAP_QUOTE_WINDOW_SECONDS = env.int("SWAP_QUOTE_WINDOW_SECONDS", default=600)
# SWAP_EXPIRY_GRACE_SECONDS: extra wait past the quote window for a lock still confirming.
SWAP_EXPIRY_GRACE_SECONDS = env.int("SWAP_EXPIRY_GRACE_SECONDS", default=120)
# SWAP_MAKER_RESPONSE_SECONDS: JSON, per network (the base network, where the maker locks):
# how long after the taker's lock is confirmed the maker's lock must be seen on chain
# (maker_deadline). "default" covers the networks not named.
SWAP_MAKER_RESPONSE_SECONDS = env.json(
    "SWAP_MAKER_RESPONSE_SECONDS", default={"default": 900, "local-a": 120, "local-b": 120}
)
# SWAP_TAKER_REDEEM_SECONDS: JSON, per network (the base network, where the taker redeems):
# how long after the maker's lock is confirmed the taker must redeem (taker_redeem_deadline).
SWAP_TAKER_REDEEM_SECONDS = env.json(
    "SWAP_TAKER_REDEEM_SECONDS", default={"default": 900, "local-a": 120, "local-b": 120}
)
# SWAP_TIMELOCKS: JSON, per network: "margin_seconds", the floor of T1 - T2 (the maker's
# time to redeem once the secret is public, and the slack after the redeem window before
# T2). It is raised to four times the slower chain's confirmation time when set lower. The
# timelocks follow from the deadlines (README, "Deadlines and timelocks"). "default" covers
# the rest.
SWAP_TIMELOCKS = env.json(
    "SWAP_TIMELOCKS",
    default={
        "default": {"margin_seconds": 1800},
        "local-a": {"margin_seconds": 300},
        "local-b": {"margin_seconds": 300},
    },
)
# SWAP_TIMELOCK_TOLERANCE_SECONDS: how far a lock's timelock may differ from the agreed one.
SWAP_TIMELOCK_TOLERANCE_SECONDS = env.int("SWAP_TIMELOCK_TOLERANCE_SECONDS", default=0)
# SWAP_MAX_OPEN_PER_USER: open swaps (not yet finished) one user may have as taker.
SWAP_MAX_OPEN_PER_USER = env.int("SWAP_MAX_OPEN_PER_USER", default=5)
# SWAP_MAX_UNLOCKED_PER_USER: swaps one taker may hold that are not locked yet (reserving a
# listing costs nothing until the lock, so it is capped).
SWAP_MAX_UNLOCKED_PER_USER = env.int("SWAP_MAX_UNLOCKED_PER_USER", default=2)
# SWAP_FAULT_SUSPEND_COUNT / _HOURS / _WINDOW_DAYS: a user whose faults (missed deadlines,
# bad locks, abandoned swaps) within the window reach the count can neither take swaps nor
# publish listings for the given hours from the fault that reached it.
SWAP_FAULT_SUSPEND_COUNT = env.int("SWAP_FAULT_SUSPEND_COUNT", default=3)
SWAP_FAULT_SUSPEND_HOURS = env.int("SWAP_FAULT_SUSPEND_HOURS", default=24)
SWAP_FAULT_WINDOW_DAYS = env.int("SWAP_FAULT_WINDOW_DAYS", default=30)
# SWAP_STUCK_SECONDS: an open swap unchanged this long is "stuck" in the admin monitor.
SWAP_STUCK_SECONDS = env.int("SWAP_STUCK_SECONDS", default=3600)
# SWAP_NEXT_ACTION_CACHE_SECONDS: how long a party's next step is kept for one chain block
# (the key holds the block hash, so a new block is never served an old answer).
SWAP_NEXT_ACTION_CACHE_SECONDS = env.int("SWAP_NEXT_ACTION_CACHE_SECONDS", default=300)
# SWAP_MESSAGE_MAX_CHARS: the longest message between the parties (and in a dispute).
SWAP_MESSAGE_MAX_CHARS = env.int("SWAP_MESSAGE_MAX_CHARS", default=2000)
# SWAP_EVIDENCE_ROOT: where dispute evidence files are kept, never under a public URL
# (empty: $VAR_DIR/private/evidence, resolved when a file is stored).
SWAP_EVIDENCE_ROOT = env.str("SWAP_EVIDENCE_ROOT", default="")
# SWAP_EVIDENCE_MAX_BYTES: the largest dispute evidence file (image or PDF), in bytes.
SWAP_EVIDENCE_MAX_BYTES = env.int("SWAP_EVIDENCE_MAX_BYTES", default=5 * 1024 * 1024)
# SWAP_EVIDENCE_MAX_FILES: evidence files one dispute message may carry.
SWAP_EVIDENCE_MAX_FILES = env.int("SWAP_EVIDENCE_MAX_FILES", default=5)

# --- Web Push (swaps.push) ------------------------------------------------------------
# WEBPUSH_VAPID_PRIVATE_KEY: the VAPID key that signs pushes, a P-256 key as PEM or its raw
# 32 bytes in base64url (empty: Web Push off, the page does not offer it).
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
# WEBPUSH_SUBJECT: the contact VAPID gives push services (empty: mailto: and the address of
# DEFAULT_FROM_EMAIL, else SITE_URL).
WEBPUSH_SUBJECT = env.str("WEBPUSH_SUBJECT", default="")
# WEBPUSH_TTL_SECONDS: how long a push service keeps a push the browser has not collected.
WEBPUSH_TTL_SECONDS = env.int("WEBPUSH_TTL_SECONDS", default=3600)

# --- Demo faucet (chains.faucet, DEBUG only) --------------------------------------------
# FAUCET_ETH / FAUCET_TEST: what one faucet request sends on each local-* network, in whole
# test ETH and whole TEST tokens (decimal strings).
FAUCET_ETH = env.str("FAUCET_ETH", default="1")
FAUCET_TEST = env.str("FAUCET_TEST", default="1000")

# --- Operations -------------------------------------------------------------------
# SLOW_QUERY_MS: queries slower than this are logged with their view or task (0: off).
SLOW_QUERY_MS = env.float("SLOW_QUERY_MS", default=1000.0)
# BACKUP_DIR: where `manage.py backup` writes (default $VAR_DIR/backups).
BACKUP_DIR = env.str("BACKUP_DIR", default="")
# IDEMPOTENCY_KEY_TTL_HOURS: how long the first answer to an Idempotency-Key is replayed.
IDEMPOTENCY_KEY_TTL_HOURS = env.float("IDEMPOTENCY_KEY_TTL_HOURS", default=24.0)
# OPS_STUCK_GRACE_SECONDS: a swap past its deadline this long counts as stuck (metric, alert).
OPS_STUCK_GRACE_SECONDS = env.int("OPS_STUCK_GRACE_SECONDS", default=300)
# BEAT_LOCK_RETRY_SECONDS: how often a standby beat tries to take the scheduler lock.
BEAT_LOCK_RETRY_SECONDS = env.float("BEAT_LOCK_RETRY_SECONDS", default=5.0)
# RELAYER_MIN_BALANCE_ETH: the relayer hot wallet's balance (native coin) below which it alerts.
RELAYER_MIN_BALANCE_ETH = env.str("RELAYER_MIN_BALANCE_ETH", default="0.05")
# HEALTH_CHAINS_REQUIRED: when true, an unreachable chain RPC makes /health/ready answer 503.
HEALTH_CHAINS_REQUIRED = env.bool("HEALTH_CHAINS_REQUIRED", default=False)
# HEALTH_CHECK_TIMEOUT: seconds each readiness check may take.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=3.0)
# METRICS_TOKEN: bearer token for /metrics; without it /metrics answers loopback clients only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# LOG_LEVEL: root log level (JSON lines on stdout).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "core.logging.RequestContextFilter"},
        "redact": {"()": "core.logging.RedactingFilter"},
    },
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_context", "redact"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces these; keep their errors.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # httpx logs each request URL at INFO; an RPC URL may carry an API key.
        "httpx": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}

os.environ.setdefault("FORKED_BY_MULTIPROCESSING", "1")

# --- Oracle ---------------------------------------------------------------------------
# ORACLE_COINBASE_URL / ORACLE_KRAKEN_URL / ORACLE_BINANCE_URL / ORACLE_COINGECKO_URL: base URL
# of each exchange's public REST API (a proxy or a test server can stand in).
ORACLE_SOURCE_URLS = {
    "coinbase": env.str("ORACLE_COINBASE_URL", default="https://api.exchange.coinbase.com"),
    "kraken": env.str("ORACLE_KRAKEN_URL", default="https://api.kraken.com"),
    "binance": env.str("ORACLE_BINANCE_URL", default="https://api.binance.com"),
    "coingecko": env.str("ORACLE_COINGECKO_URL", default="https://api.coingecko.com"),
}
# ORACLE_HTTP_TIMEOUT: seconds each request to a source may take.
ORACLE_HTTP_TIMEOUT = env.float("ORACLE_HTTP_TIMEOUT", default=5.0)
# ORACLE_MAX_AGE_SECONDS: a REST quote older than this (by the provider's clock) is stale.
ORACLE_MAX_AGE_SECONDS = env.int("ORACLE_MAX_AGE_SECONDS", default=30)
# Per-source max ages: CoinGecko refreshes simple/price every 60 s; a Chainlink answer may
# be one heartbeat old (keep >= the longest configured heartbeat); an XRC rate is for the
# start of the previous minute.
ORACLE_SOURCE_MAX_AGE_SECONDS = {"coingecko": 120, "chainlink": 3600, "icp_xrc": 180}
# ORACLE_CHAINLINK_FEEDS: JSON, a Chainlink feed per pair, e.g.
#   {"ETH-USD": {"network": "sepolia", "address": "0x...", "heartbeat": 3600}}.
ORACLE_CHAINLINK_FEEDS = env.json("ORACLE_CHAINLINK_FEEDS", default={})
# ORACLE_ICP_HOST: IC boundary node or replica the Exchange Rate Canister is called on.
ORACLE_ICP_HOST = env.str("ORACLE_ICP_HOST", default="https://icp-api.io")
# ORACLE_ICP_XRC_CANISTER_ID: canister asked for rates (the XRC, or an XRC-compatible proxy).
ORACLE_ICP_XRC_CANISTER_ID = env.str(
    "ORACLE_ICP_XRC_CANISTER_ID", default="uf6dk-hyaaa-aaaaq-qaaaq-cai"
)
# ORACLE_ICP_CALL_TIMEOUT: seconds one XRC update call (submit and polling) may take; a rate
# the XRC must first fetch from exchanges takes a few consensus rounds plus HTTPS outcalls.
ORACLE_ICP_CALL_TIMEOUT = env.float("ORACLE_ICP_CALL_TIMEOUT", default=15.0)
# ORACLE_MAX_CLOCK_SKEW_SECONDS: how far a provider timestamp may be ahead of ours.
ORACLE_MAX_CLOCK_SKEW_SECONDS = env.int("ORACLE_MAX_CLOCK_SKEW_SECONDS", default=5)
# ORACLE_MAX_DEVIATION_PCT: a source further than this from the median is excluded.
ORACLE_MAX_DEVIATION_PCT = Decimal(env.str("ORACLE_MAX_DEVIATION_PCT", default="2"))
# ORACLE_QUORUM / ORACLE_DEGRADED_MIN: agreeing fresh sources for "ok" / "degraded".
ORACLE_QUORUM = env.int("ORACLE_QUORUM", default=3)
ORACLE_DEGRADED_MIN = env.int("ORACLE_DEGRADED_MIN", default=2)
# ORACLE_HALT_SPREAD_PCT: the pair halts when agreeing sources span more than this.
ORACLE_HALT_SPREAD_PCT = Decimal(env.str("ORACLE_HALT_SPREAD_PCT", default="5"))
# ORACLE_MAX_JUMP_PCT / ORACLE_JUMP_WINDOW_SECONDS: a bigger move within the window needs a quorum.
ORACLE_MAX_JUMP_PCT = Decimal(env.str("ORACLE_MAX_JUMP_PCT", default="10"))
ORACLE_JUMP_WINDOW_SECONDS = env.int("ORACLE_JUMP_WINDOW_SECONDS", default=60)
# Fixed prices of local test tokens (pair -> decimal string), always labelled as fixed.
ORACLE_FIXED_PRICES = {"TEST-USD": "1.00"}
# ORACLE_PAIRS: pairs always fetched (registered assets are added as <SYMBOL>-USD).
ORACLE_PAIRS = env.list("ORACLE_PAIRS", default=["BTC-USD", "ETH-USD", "ICP-USD", "USDT-USD"])
# ORACLE_CROSS_PAIRS: cross rates through USD listed by /api/v1/prices/ (any pair of known
# assets can still be asked for by name).
ORACLE_CROSS_PAIRS = env.list("ORACLE_CROSS_PAIRS", default=["ETH-ICP", "BTC-ETH"])
# ORACLE_SOURCES: the sources asked in each round. Add "chainlink" once feeds are configured;
# "icp_xrc" only with a proxy canister (the real XRC refuses calls from outside the IC).
ORACLE_SOURCES = env.list("ORACLE_SOURCES", default=["coinbase", "kraken", "binance", "coingecko"])
# ORACLE_RAW_RETENTION_HOURS: how long raw published points are kept (candles stay).
ORACLE_RAW_RETENTION_HOURS = env.int("ORACLE_RAW_RETENTION_HOURS", default=48)

# --- Accounts: profiles and KYC -------------------------------------------------------------
# KYC_DOCUMENT_ROOT: private directory for KYC documents (never under a public URL);
# empty means $VAR_DIR/private/kyc.
KYC_DOCUMENT_ROOT = env.str("KYC_DOCUMENT_ROOT", default="")
# KYC_DOCUMENT_MAX_BYTES / AVATAR_MAX_BYTES: largest accepted uploads.
KYC_DOCUMENT_MAX_BYTES = env.int("KYC_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=2 * 1024 * 1024)
# UPLOAD_IMAGE_MAX_PIXELS: largest width x height of an uploaded image, read from its header
# before decoding (4 Mpx, about 16 MiB decoded); also Pillow's MAX_IMAGE_PIXELS.
UPLOAD_IMAGE_MAX_PIXELS = env.int("UPLOAD_IMAGE_MAX_PIXELS", default=4_000_000)
# REQUEST_MAX_BYTES: largest request body of any kind (413 above it, refused before it is
# stored); default: the largest upload plus 1 MiB for the rest of the form.
REQUEST_MAX_BYTES = env.int(
    "REQUEST_MAX_BYTES", default=max(KYC_DOCUMENT_MAX_BYTES, AVATAR_MAX_BYTES) + 1024 * 1024
)
# KYC_LIMIT_USD_NONE / _BASIC / _VERIFIED: largest swap value (USD) per KYC level.
KYC_LIMITS_USD = {
    "none": Decimal(env.str("KYC_LIMIT_USD_NONE", default="1000")),
    "basic": Decimal(env.str("KYC_LIMIT_USD_BASIC", default="10000")),
    "verified": Decimal(env.str("KYC_LIMIT_USD_VERIFIED", default="100000")),
}

# --- Wallet balances ------------------------------------------------------------------------
# WALLET_BALANCE_CACHE_SECONDS: how long balances read from the chains are reused for the same
# set of addresses (profile page and /api/v1/me/wallets); 0 reads the chains every time.
WALLET_BALANCE_CACHE_SECONDS = env.int("WALLET_BALANCE_CACHE_SECONDS", default=30)
# WALLET_BALANCE_RPC_TIMEOUT: seconds one network may take to answer a balance read; after it,
# that network's balances show as unavailable (pages never wait for a slow node).
WALLET_BALANCE_RPC_TIMEOUT = env.float("WALLET_BALANCE_RPC_TIMEOUT", default=2.0)

# --- Marketplace ----------------------------------------------------------------
# LISTING_MAX_PRICE_DEVIATION_PCT: how far (percent) a fixed price may be from the oracle's
# rate when a listing is created or edited, and when it is taken.
LISTING_MAX_PRICE_DEVIATION_PCT = Decimal(env.str("LISTING_MAX_PRICE_DEVIATION_PCT", default="25"))
# READ_CACHE_SECONDS: longest life of a cached offer-book or price read (core.versioned, used
# by marketplace.cache and oracle.selectors.cached_over_prices). They are invalidated exactly
# on every change; this only bounds what the cache holds. 0: no caching.
READ_CACHE_SECONDS = env.int("READ_CACHE_SECONDS", default=300)
# MARKETPLACE_TERMS_MAX_LENGTH: longest listing terms text, in characters.
MARKETPLACE_TERMS_MAX_LENGTH = env.int("MARKETPLACE_TERMS_MAX_LENGTH", default=2000)

# --- Escrow: goods and services (escrow/, chains/contracts/Escrow.vy) -----------------------
# ESCROW_FEE_BPS: the platform fee on an order, in basis points of subtotal + shipping, paid to
# the treasury on release only (never on a refund or a resolution). The contract caps it at 1000.
ESCROW_FEE_BPS = env.int("ESCROW_FEE_BPS", default=100)
# ESCROW_TREASURY_ADDRESS: where fees go; fixed in each Escrow deployment. Empty: anvil's public
# development account 7 on local-* networks only; other networks get no escrow without it.
ESCROW_TREASURY_ADDRESS = env.str("ESCROW_TREASURY_ADDRESS", default="")
# ESCROW_RELEASE_SECONDS: from checkout to the automatic release (the contract's release time),
# unless the buyer releases earlier or a dispute is opened before it. JSON per network.
ESCROW_RELEASE_SECONDS = env.json(
    "ESCROW_RELEASE_SECONDS", default={"default": 14 * 86400, "local-a": 3600, "local-b": 3600}
)
# ESCROW_PAYMENT_WINDOW_SECONDS: an order not funded this long after checkout is cancelled and
# its stock returned (a deposit that still arrives later is honoured and flagged for the seller).
ESCROW_PAYMENT_WINDOW_SECONDS = env.int("ESCROW_PAYMENT_WINDOW_SECONDS", default=1800)
# ESCROW_RELEASE_OVERDUE_SECONDS: an order still held this long after its release time (no
# dispute) counts as a stuck automatic release: metric escrow_releases_overdue, admin filter.
ESCROW_RELEASE_OVERDUE_SECONDS = env.int("ESCROW_RELEASE_OVERDUE_SECONDS", default=600)
# ESCROW_IMAGE_MAX_BYTES / _MAX_PIXELS / _PER_PRODUCT: product image limits.
ESCROW_IMAGE_MAX_BYTES = env.int("ESCROW_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
ESCROW_IMAGE_MAX_PIXELS = env.int("ESCROW_IMAGE_MAX_PIXELS", default=25_000_000)
ESCROW_IMAGES_PER_PRODUCT = env.int("ESCROW_IMAGES_PER_PRODUCT", default=8)
# ESCROW_FILE_MAX_BYTES: largest evidence file (shipping papers, condition proofs, messages).
ESCROW_FILE_MAX_BYTES = env.int("ESCROW_FILE_MAX_BYTES", default=10 * 1024 * 1024)
# ESCROW_FILE_ROOT: private directory for order files (never under a public URL); empty means
# $VAR_DIR/private/escrow.
ESCROW_FILE_ROOT = env.str("ESCROW_FILE_ROOT", default="")
# The escrow order's states and a product's kind are named enums in the OpenAPI schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(  # type: ignore[attr-defined]
    {
        "EscrowOrderStateEnum": "escrow.models.Order.State",
        "ProductKindEnum": "escrow.models.Product.Kind",
    }
)
