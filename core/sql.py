"""SQL IN lists sized for the database at hand."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

IN_LIST_LIMITED = 500  # values per IN list on SQLite (Django allows it 999 parameters a query)
# Where the database sets no such limit (PostgreSQL takes 65,535 parameters): a watcher batch
# of a few thousand events then reads each table once.
IN_LIST_UNLIMITED = 20_000


def in_list_size() -> int:
    """Values per SQL IN list on this database."""
    return IN_LIST_LIMITED if connection.features.max_query_params else IN_LIST_UNLIMITED


def in_lists(items: list, size: int | None = None) -> Iterable[list]:
    """`items` in lists of at most `size` (default ``in_list_size()``), for SQL IN lists."""
    size = size or in_list_size()
    return (items[i : i + size] for i in range(0, len(items), size))
