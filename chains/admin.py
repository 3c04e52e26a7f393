"""Operations console for chains: assets are editable; chain facts are read-only."""

from django.contrib import admin

from chains.models import Asset, ChainCursor, ChainEvent, Deployment, HtlcLock, RelayerTx
from core.admin import ReadOnlyAdmin


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "network",
        "price_symbol",
        "address",
        "decimals",
        "is_test",
        "enabled",
    )
    list_filter = ("network", "is_test", "enabled")
    search_fields = ("symbol", "name", "address")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = (
        "contract",
        "label",
        "network",
        "address",
        "block_number",
        "active",
        "created_at",
    )
    list_filter = ("network", "contract", "active")


@admin.register(ChainCursor)
class ChainCursorAdmin(ReadOnlyAdmin):
    list_display = (
        "network",
        "last_block",
        "head_block",
        "consecutive_failures",
        "circuit_open_until",
        "last_error",
        "updated_at",
    )


@admin.register(ChainEvent)
class ChainEventAdmin(ReadOnlyAdmin):
    list_display = ("name", "network", "lock_id", "block_number", "tx_hash", "orphaned")
    list_filter = ("network", "name", "orphaned")
    search_fields = ("lock_id", "tx_hash")


@admin.register(RelayerTx)
class RelayerTxAdmin(ReadOnlyAdmin):
    list_display = ("action", "network", "lock_id", "nonce", "status", "tx_hash", "sent_at")
    list_filter = ("network", "action", "status")
    search_fields = ("lock_id", "tx_hash")


@admin.register(HtlcLock)
class HtlcLockAdmin(ReadOnlyAdmin):
    list_display = ("lock_id", "network", "state", "amount", "timelock", "sender", "recipient")
    list_filter = ("network", "state")
    search_fields = ("lock_id", "hashlock", "sender", "recipient")
