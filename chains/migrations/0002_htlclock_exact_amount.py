"""HtlcLock.amount in the exact decimal column (78 digits of base units).

PostgreSQL keeps numeric(78, 0), so nothing changes on disk there. On SQLite the REAL
column (15 significant digits) becomes fixed-width text; the stored values are kept and
rewritten in that form.
"""

from django.db import migrations

import core.fields


def rewrite(apps, schema_editor):
    core.fields.sqlite_rewrite(apps, schema_editor, model="chains.HtlcLock", fields=["amount"])


class Migration(migrations.Migration):

    dependencies = [
        ("chains", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="htlclock",
            name="amount",
            field=core.fields.ExactDecimalField(
                decimal_places=0, help_text="Base units.", max_digits=78
            ),
        ),
        migrations.RunPython(rewrite, migrations.RunPython.noop),
    ]
