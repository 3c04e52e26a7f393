"""An exact decimal column on both databases.

PostgreSQL stores ``numeric(60, 18)``: exact. SQLite has no exact decimal type: Django's
``DecimalField`` lands there as a REAL and keeps 15 significant digits, so
``123456789.123456789012345678`` would read back as ``123456789.123457``. On SQLite this
field stores a zero-padded fixed-width string instead (42 integer digits, 18 places), which
is exact and, because every value has the same width, compares and sorts as the number
does (values are never negative: the check constraints say so).
"""

from __future__ import annotations

from decimal import Context, Decimal

from django.db import models

INT_DIGITS = 42
PLACES = 18
_QUANTUM = Decimal(1).scaleb(-PLACES)
_WIDTH = INT_DIGITS + 1 + PLACES
# Enough digits for any value of the column, whatever context the caller set.
_CTX = Context(prec=INT_DIGITS + PLACES + 10)


def sqlite_text(value: Decimal) -> str:
    """The SQLite storage form: fixed width, so text order is numeric order for value >= 0."""
    return format(value.quantize(_QUANTUM, context=_CTX), "f").zfill(_WIDTH)


class ExactDecimalField(models.DecimalField):
    """``DecimalField(max_digits=60, decimal_places=18)`` that stays exact on SQLite too."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = INT_DIGITS + PLACES
        kwargs["decimal_places"] = PLACES
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        # Not "DecimalField": SQLite's converter for that type goes through a float.
        return "ExactDecimalField"

    def db_type(self, connection) -> str:
        if connection.vendor == "sqlite":
            return f"varchar({_WIDTH + 1})"
        return f"numeric({INT_DIGITS + PLACES}, {PLACES})"

    def cast_db_type(self, connection) -> str:
        return self.db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        value = self.to_python(value)
        if connection.vendor == "sqlite":
            return sqlite_text(value)
        return value

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Decimal(value).quantize(_QUANTUM, context=_CTX) if isinstance(value, str) else value
