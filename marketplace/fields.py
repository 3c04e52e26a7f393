"""Where the listing migrations (0001) find the exact decimal field: it lives in core now.

Migrations name a field by its dotted path, so this path stays importable.
"""

from core.fields import ExactDecimalField as ExactDecimalField
