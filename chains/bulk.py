"""Bulk inserts for the watcher's batches: PostgreSQL's COPY, ``bulk_create`` elsewhere.

A watcher batch inserts thousands of rows (events, new locks). ``bulk_create`` spends most
of its time in Python, preparing each value of each row through its field (about 80 µs a
row on this project's machine, even as Django's UNNEST statement); COPY takes the values as
they are, in psycopg's C adapters, for several times less. So on PostgreSQL the rows are
COPYed, with values the columns take as they are (strings, integers, booleans, aware
datetimes, ``Decimal`` exactly, JSON dumped here); on SQLite ``bulk_create`` does it.

COPY goes round Django's cursor wrapper (and so round ``ops.slowlog``'s execute wrapper), so
it is logged by hand where Django logs queries (``connection.queries_log``, when queries are
logged): query-count tests see it as one query.
A unique violation raises ``django.db.IntegrityError``, as an INSERT's would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

from django.db import connection, models

# The fields whose Python values COPY takes unchanged (JSONField is dumped, see above).
_AS_IS = (
    models.CharField,
    models.TextField,
    models.IntegerField,  # and its Big/Small/Positive kinds
    models.BooleanField,
    models.DateTimeField,
    models.DecimalField,
    models.JSONField,
)


def rows_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert `rows` (each the values of `fields`, in that order, as the model's attributes
    hold them) into `model`'s table in one statement (none for no rows); no primary keys
    come back, no ``save()`` or signals run, ``auto_now`` fields get no value unless given.

    Precondition: inside the caller's transaction. Raises ``TypeError`` for a primary key
    or a field of a kind not listed in ``_AS_IS`` (on every database, so SQLite tests catch it), and
    ``IntegrityError`` for a row a constraint refuses (the caller's transaction is then
    rolled back).
    """
    meta = model._meta
    columns: list[models.Field] = []
    for name in fields:
        field = meta.get_field(name)
        if not isinstance(field, _AS_IS) or field.is_relation or field.primary_key:
            raise TypeError(f"{model.__name__}.{name}: not a field COPY takes as is")
        columns.append(field)
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=500
        )
        return
    dumped = [
        (i, field.encoder) for i, field in enumerate(columns) if isinstance(field, models.JSONField)
    ]
    sql = "COPY {} ({}) FROM STDIN".format(
        connection.ops.quote_name(meta.db_table),
        ", ".join(connection.ops.quote_name(field.get_attname_column()[1]) for field in columns),
    )
    started = time.monotonic()
    count = 0
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                if dumped:
                    row = list(row)
                    for i, encoder in dumped:
                        # None is SQL NULL, as Django stores it; anything else JSON text.
                        if row[i] is not None:
                            row[i] = json.dumps(row[i], cls=encoder)
                copy.write_row(row)
                count += 1
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {count} rows", "time": f"{time.monotonic() - started:.3f}"}
        )
