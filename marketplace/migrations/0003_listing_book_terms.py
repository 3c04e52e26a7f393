"""A covering index for text searches within a pair (issue #15), PostgreSQL only.

A pair's visible listings with their stored vector (migration 0002), maker and dates: a
search by pair and text (and maker reputation) counts and orders its matches from this
index alone (an index-only scan that checks the vector in the index) instead of fetching
a heap page for every listing whose terms match (the GIN index's bitmap). The vector is
not a model field, so the index is SQL here, like listing_terms_tsv.
"""

from django.db import migrations

FORWARD = (
    "CREATE INDEX IF NOT EXISTS listing_book_terms ON marketplace_listing "
    "(base_asset_id, quote_asset_id) INCLUDE (id, created_at, expires_at, maker_id, terms_tsv) "
    "WHERE state = 'active' AND hidden_at IS NULL AND deleted_at IS NULL"
)
BACKWARD = "DROP INDEX IF EXISTS listing_book_terms"


def _forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def _backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0002_offer_book_indexes")]

    operations = [migrations.RunPython(_forward, _backward)]
