"""What the platform records about chains. Chain facts enter only through the watcher."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from chains.interface import LockState
from core.fields import ExactDecimalField


class Asset(models.Model):
    """Something that can be traded: a network's native coin or one ERC-20 token on it."""

    symbol = models.CharField(max_length=16)
    name = models.CharField(max_length=64, blank=True)
    network = models.CharField(max_length=32, help_text="Network name from the registry.")
    address = models.CharField(
        max_length=42, null=True, blank=True, help_text="Token contract; empty for the native coin."
    )
    decimals = models.PositiveSmallIntegerField()
    price_symbol = models.CharField(
        max_length=16,
        blank=True,
        help_text="What the oracle prices it as (e.g. WETH → ETH, bridged USDC → USDC); "
        "empty means its symbol. Assets priced alike trade 1:1 through USD.",
    )
    is_test = models.BooleanField(default=False, help_text="A local test token; never real value.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["network", "symbol"], name="asset_symbol_per_network"),
            models.UniqueConstraint(
                fields=["network", "address"], name="asset_address_per_network"
            ),
            models.UniqueConstraint(
                fields=["network"], condition=Q(address__isnull=True), name="asset_one_native"
            ),
            models.CheckConstraint(condition=Q(decimals__lte=36), name="asset_decimals_max_36"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} on {self.network}"

    @property
    def is_native(self) -> bool:
        return self.address is None

    @property
    def priced_as(self) -> str:
        """The symbol the oracle prices this asset as."""
        return (self.price_symbol or self.symbol).upper()

    @property
    def label(self) -> str:
        """The asset as people and market URLs name it: ``SYMBOL@network``."""
        return f"{self.symbol}@{self.network}"


class Deployment(models.Model):
    """A contract this platform deployed, as recorded from its receipt."""

    network = models.CharField(max_length=32)
    contract = models.CharField(max_length=64)
    address = models.CharField(max_length=42)
    tx_hash = models.CharField(max_length=66)
    block_number = models.PositiveBigIntegerField()
    code_hash = models.CharField(max_length=66, help_text="keccak256 of the runtime code on chain.")
    source_hash = models.CharField(max_length=66, help_text="Hash of the source compiled.")
    compiler = models.CharField(max_length=32)
    deployer = models.CharField(max_length=42)
    label = models.CharField(max_length=32, blank=True, help_text="Tells apart e.g. two tokens.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "contract", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "contract", "label"],
                condition=Q(active=True),
                name="deployment_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract}{'/' + self.label if self.label else ''} on {self.network}"


class ChainCursor(models.Model):
    """Per network: how far the watcher has read, who holds the scan lease, RPC health."""

    network = models.CharField(max_length=32, unique=True)
    last_block = models.BigIntegerField(default=-1, help_text="Last block fully processed.")
    head_block = models.BigIntegerField(default=-1, help_text="Chain head at the last scan.")
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.network} @ {self.last_block}"


class ScannedBlock(models.Model):
    """Hash of a recently processed block, kept to notice reorgs."""

    network = models.CharField(max_length=32)
    number = models.BigIntegerField()
    hash = models.CharField(max_length=66)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "number"], name="scanned_block_unique")
        ]
        indexes = [models.Index(fields=["network", "-number"])]

    def __str__(self) -> str:
        return f"{self.network}#{self.number} {self.hash[:10]}…"


class ChainEvent(models.Model):
    """One HTLC log, stored once. Orphaned by a reorg rather than deleted, for the record."""

    class Name(models.TextChoices):
        LOCKED = "Locked"
        REDEEMED = "Redeemed"
        REFUNDED = "Refunded"
        # The Escrow's events that carry an order id (stored as lock_id); escrow.chain.
        ESCROW_DEPOSITED = "EscrowDeposited"
        ESCROW_RELEASED = "EscrowReleased"
        ESCROW_REFUNDED = "EscrowRefunded"
        ESCROW_DISPUTED = "EscrowDisputed"
        ESCROW_RESOLVED = "EscrowResolved"

    network = models.CharField(max_length=32)
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    block_timestamp = models.PositiveBigIntegerField()
    contract = models.CharField(max_length=42)
    name = models.CharField(max_length=16, choices=Name.choices)
    lock_id = models.CharField(max_length=66, db_index=True)
    args = models.JSONField(help_text="Decoded arguments; integers as decimal strings.")
    orphaned = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "block_number", "log_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "tx_hash", "log_index"],
                condition=Q(orphaned=False),
                name="chain_event_once",
            )
        ]
        indexes = [models.Index(fields=["network", "block_number"])]

    def __str__(self) -> str:
        return f"{self.name} {self.lock_id[:10]}… on {self.network}#{self.block_number}"


class HtlcLock(models.Model):
    """The current state of one HTLC lock, as the confirmed, non-orphaned events say."""

    class State(models.IntegerChoices):  # the contract's numbers, from chains.interface
        LOCKED = int(LockState.LOCKED)
        REDEEMED = int(LockState.REDEEMED)
        REFUNDED = int(LockState.REFUNDED)

    network = models.CharField(max_length=32)
    lock_id = models.CharField(max_length=66)
    contract = models.CharField(max_length=42)
    token = models.CharField(max_length=42, help_text="Zero address for the native coin.")
    sender = models.CharField(max_length=42)
    recipient = models.CharField(max_length=42)
    amount = ExactDecimalField(max_digits=78, decimal_places=0, help_text="Base units.")
    hashlock = models.CharField(max_length=66)
    timelock = models.PositiveBigIntegerField()
    state = models.PositiveSmallIntegerField(choices=State.choices, default=State.LOCKED)
    preimage = models.CharField(max_length=66, blank=True, help_text="Public once redeemed.")
    locked_block = models.PositiveBigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "lock_id"], name="htlc_lock_unique")
        ]
        indexes = [
            models.Index(fields=["hashlock", "state"]),
            models.Index(fields=["network", "state", "timelock"]),
        ]

    def __str__(self) -> str:
        return f"lock {self.lock_id[:10]}… on {self.network} ({self.get_state_display()})"


class RelayerAccount(models.Model):
    """The relayer's hot wallet on one network and its next nonce (survives restarts)."""

    network = models.CharField(max_length=32)
    address = models.CharField(max_length=42)
    next_nonce = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "address"], name="relayer_account_unique")
        ]

    def __str__(self) -> str:
        return f"relayer {self.address} on {self.network}"


class RelayerTx(models.Model):
    """A redeem or refund the relayer signed. One live row per (network, action, lock).

    The signed bytes are stored, with the nonce taken, before they are broadcast
    (``signed``); a worker killed in between leaves the row for ``relayer_resume`` to send
    the very same bytes again, so a nonce is never used by two different transactions.
    """

    class Action(models.TextChoices):
        REDEEM = "redeem"
        REFUND = "refund"

    class Status(models.TextChoices):
        SIGNED = "signed"  # stored, not yet known to have reached the node
        PENDING = "pending"  # broadcast, not mined yet
        MINED = "mined"
        FAILED = "failed"

    network = models.CharField(max_length=32)
    action = models.CharField(max_length=8, choices=Action.choices)
    lock_id = models.CharField(max_length=66)
    nonce = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66)
    replaced_hashes = models.JSONField(default=list, blank=True)
    raw_tx = models.TextField(blank=True, help_text="The signed transaction of tx_hash (0x-hex).")
    data = models.TextField(blank=True, help_text="Call data, kept to re-price a stuck tx.")
    gas = models.PositiveBigIntegerField(null=True, blank=True)
    max_fee_per_gas = models.DecimalField(max_digits=40, decimal_places=0)
    max_priority_fee_per_gas = models.DecimalField(max_digits=40, decimal_places=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Last broadcast.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "action", "lock_id"],
                condition=~Q(status="failed"),
                name="relayer_tx_once",
            )
        ]
        indexes = [models.Index(fields=["network", "status"])]

    def __str__(self) -> str:
        return f"{self.action} {self.lock_id[:10]}… on {self.network} ({self.status})"
