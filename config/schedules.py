"""Every periodic Celery job, in one place. Each has an expiry so a backlog never piles up."""

import environ

env = environ.Env()
# WORKER_HEARTBEAT_SECONDS: how often beat asks a worker to record a heartbeat (see /health/ready).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15.0)
# CHAIN_SCAN_INTERVAL: seconds between watcher passes; RELAYER_INTERVAL: between relayer passes.
CHAIN_SCAN_INTERVAL = env.float("CHAIN_SCAN_INTERVAL", default=2.0)
RELAYER_INTERVAL = env.float("RELAYER_INTERVAL", default=5.0)
# ORACLE_REFRESH_SECONDS: seconds between oracle refresh rounds.
ORACLE_REFRESH_SECONDS = env.float("ORACLE_REFRESH_SECONDS", default=10.0)
# SWAP_RECONCILE_SECONDS: how often open swaps are re-derived from chain state and expired.
SWAP_RECONCILE_SECONDS = env.float("SWAP_RECONCILE_SECONDS", default=15.0)

CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "core-heartbeat": {
        "task": "core.heartbeat",
        "schedule": WORKER_HEARTBEAT_SECONDS,
        # Never shorter than a broker poll (the file transport polls each second).
        "options": {"expires": max(WORKER_HEARTBEAT_SECONDS, 10.0)},
    },
    "chains-scan": {
        "task": "chains.scan_all",
        "schedule": CHAIN_SCAN_INTERVAL,
        "options": {"expires": max(CHAIN_SCAN_INTERVAL, 10.0)},
    },
    "chains-relay-refunds": {
        "task": "chains.relay_refunds",
        "schedule": RELAYER_INTERVAL,
        "options": {"expires": max(RELAYER_INTERVAL, 10.0)},
    },
    "escrow-release-due": {
        "task": "escrow.release_due",
        "schedule": RELAYER_INTERVAL,
        "options": {"expires": max(RELAYER_INTERVAL, 10.0)},
    },
    "escrow-expire": {"task": "escrow.expire", "schedule": 60.0, "options": {"expires": 60.0}},
    "oracle-refresh": {
        "task": "oracle.refresh",
        "schedule": ORACLE_REFRESH_SECONDS,
        # A late round is useless: the next one is due soon.
        "options": {"expires": max(ORACLE_REFRESH_SECONDS, 5.0)},
    },
    "oracle-prune": {"task": "oracle.prune", "schedule": 3600.0, "options": {"expires": 600.0}},
    "swaps-reconcile": {
        "task": "swaps.reconcile",
        "schedule": SWAP_RECONCILE_SECONDS,
        "options": {"expires": max(SWAP_RECONCILE_SECONDS, 10.0)},
    },
    "accounts-purge-siwe-nonces": {
        "task": "accounts.purge_siwe_nonces",
        "schedule": 3600.0,
        "options": {"expires": 600.0},
    },
    "accounts-purge-ii-nonces": {
        "task": "accounts.purge_ii_nonces",
        "schedule": 3600.0,
        "options": {"expires": 600.0},
    },
    # A listing past its expiry is already refused by reservations; this just tidies its state.
    "marketplace-expire-listings": {
        "task": "marketplace.expire_listings",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
}
