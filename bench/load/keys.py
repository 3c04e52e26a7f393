"""The load users' wallet keys: the n-th key of a run is derived from the run's seed, so
``run.py`` can fund the wallets on the local chains before locust signs in with them."""

from __future__ import annotations

import hashlib

KEY_SEED_ENV = "LOAD_KEY_SEED"
FUNDED_ENV = "LOAD_FUNDED_KEYS"  # how many of the keys run.py funded


def key_bytes(seed: str, n: int) -> bytes:
    """The private key (32 bytes) of load user `n` in the run seeded with `seed`."""
    return hashlib.sha256(f"p2p-swap-load:{seed}:{n}".encode()).digest()
