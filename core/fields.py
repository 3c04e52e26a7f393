"""An exact decimal column on both databases.

PostgreSQL stores ``numeric(max_digits, decimal_places)``: exact. SQLite has no exact decimal
type: Django's ``DecimalField`` lands there as a REAL and keeps 15 significant digits, so
``123456789.123456789012345678`` would read back as ``123456789.123457``. On SQLite this
field stores a zero-padded fixed-width string instead, which is exact and, because every
value has the same width, compares and sorts as the number does for values >= 0 (the
amount columns using it are never negative).
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

from django.db import connection, models

from core.decimals import AMOUNT_DIGITS, AMOUNT_PLACES


class ExactDecimalField(models.DecimalField):
    """``DecimalField`` (by default ``max_digits=60, decimal_places=18``) exact on SQLite too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", AMOUNT_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_PLACES)
        super().__init__(*args, **kwargs)
        max_digits, decimal_places = int(self.max_digits), int(self.decimal_places)
        # The SQLite text form: integer digits, a point when there are places, the places.
        self._width = max_digits + (1 if decimal_places else 0)
        self._quantum = Decimal(1).scaleb(-decimal_places)
        # Enough digits for any value of the column, whatever context the caller set.
        self._exact = Context(prec=max_digits + 10)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        # The defaults stay out, so the listing migrations' bare ExactDecimalField() matches.
        if kwargs.get("max_digits") == AMOUNT_DIGITS:
            kwargs.pop("max_digits")
        if kwargs.get("decimal_places") == AMOUNT_PLACES:
            kwargs.pop("decimal_places")
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        # Not "DecimalField" on SQLite: its converter for that type goes through a float. On
        # PostgreSQL the column is a plain numeric, and the standard name lets bulk_create
        # use Django's UNNEST insert (a several times cheaper statement to build).
        return "DecimalField" if connection.vendor == "postgresql" else "ExactDecimalField"

    def db_type(self, connection) -> str:
        if connection.vendor == "sqlite":
            return f"varchar({self._width + 1})"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def cast_db_type(self, connection) -> str:
        return self.db_type(connection)

    def sqlite_text(self, value: Decimal) -> str:
        """The SQLite storage form: fixed width, so text order is numeric order for value >= 0.

        Raises ValueError for a value with more integer digits than the column holds (as
        PostgreSQL refuses it with a numeric overflow).
        """
        text = format(value.quantize(self._quantum, context=self._exact), "f")
        if len(text.lstrip("-")) > self._width:
            raise ValueError(f"{value} has more digits than this column holds")
        return text.zfill(self._width)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        value = self.to_python(value)
        if connection.vendor == "sqlite":
            return self.sqlite_text(value)
        return value

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, str):
            return Decimal(value).quantize(self._quantum, context=self._exact)
        # SQLite's SUM/AVG over the text column answer a REAL: read it as Django reads a
        # DecimalField's REAL (15 significant digits), so aggregates still give Decimals.
        if isinstance(value, float):
            value = Context(prec=15).create_decimal_from_float(value)
        return Decimal(value).quantize(self._quantum, context=self._exact)


def sqlite_rewrite(apps, schema_editor, *, model: str, fields: list[str]) -> None:
    """Migration step after columns became ``ExactDecimalField``: on SQLite, store each value
    of `fields` of `model` (``"app_label.Model"``) in the fixed-width text form.

    SQLite's table copy writes the old REAL values as plain text (``0.5``, ``1.0e-18``),
    which reads back right but does not compare as a number against the padded form.
    PostgreSQL keeps the same numeric column: nothing to do there.
    """
    if schema_editor.connection.vendor != "sqlite":
        return
    rows = apps.get_model(model)._base_manager.db_manager(schema_editor.connection.alias)
    for values in rows.values("pk", *fields).iterator():
        pk = values.pop("pk")
        rows.filter(pk=pk).update(**values)
