"""The test suite (`make test`): the same backends as base, SQLite or PostgreSQL, files or Redis."""

import tempfile
import uuid
from pathlib import Path

from .base import *  # noqa: F403
from .base import CACHES, CHANNEL_LAYERS, DATABASES, REDIS_URL, STORAGES, USING_POSTGRES, env

# Every run writes its runtime files and Redis keys apart, so runs never see each other's leftovers.
TEST_RUN_ID = uuid.uuid4().hex[:12]
VAR_DIR = Path(tempfile.mkdtemp(prefix="p2pswap-test-"))
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
REDIS_KEY_PREFIX = f"p2pswap-test-{TEST_RUN_ID}"
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = REDIS_KEY_PREFIX
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{REDIS_KEY_PREFIX}:asgi"
else:
    CACHES["default"]["LOCATION"] = str(VAR_DIR / "cache")

if USING_POSTGRES:
    # Each run creates and drops its own database, so concurrent runs never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_p2pswap_{TEST_RUN_ID}"}
else:
    # A file, not Django's shared in-memory database: the browser tests serve the app from
    # other threads, whose connections must see committed rows without shared-cache table
    # locks. WAL and IMMEDIATE transactions (base settings) let them wait for each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
# Connections close at the end of each request, so a server thread never keeps one open
# past its test (PostgreSQL refuses to drop a test database that still has clients).
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Fast hashing; the suite creates many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks fired on commit run inline; tests of the broker path start a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:"} if REDIS_URL else {}
)
STORAGES = {**STORAGES}

# Cached offer-book and price reads are invalidated on commit, which tests inside a rolled-back
# transaction never reach: off for the suite; the tests of the cache turn it on and commit
# (marketplace/tests/test_read_cache.py).
READ_CACHE_SECONDS = 0
