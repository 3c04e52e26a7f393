from decimal import Decimal

from rest_framework import serializers

from oracle.models import PriceCandle


class SourcePriceSerializer(serializers.Serializer):
    # The public field is called `source`, like DRF's Field attribute; mypy cannot tell.
    source = serializers.CharField()  # type: ignore[assignment]
    price = serializers.CharField(help_text="Decimal string.")
    observed_at = serializers.DateTimeField()


class ExcludedSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]
    price = serializers.CharField(allow_null=True)
    observed_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(help_text="stale, deviation, error, unsupported or invalid.")
    detail = serializers.CharField(allow_null=True, required=False)


class PriceSerializer(serializers.Serializer):
    """A published price. `price` is null unless `status` is `ok` or `degraded`."""

    pair = serializers.CharField()
    price = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["ok", "degraded", "stale", "halted"])
    sources = SourcePriceSerializer(many=True)
    excluded = ExcludedSerializer(many=True)
    spread_pct = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()
    halt_reason = serializers.CharField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)
    fixed = serializers.BooleanField(
        help_text="A configured price of a test token, not a market one."
    )
    last_price = serializers.CharField(allow_null=True)
    last_price_at = serializers.DateTimeField(allow_null=True)


class CandleSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceCandle
        fields = ["start", "open", "high", "low", "close", "samples"]


class HistoryQuerySerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=PriceCandle.Interval.values, default="1m")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=500)


class ConvertQuerySerializer(serializers.Serializer):
    # DRF fields map query names; `from` is a Python keyword, hence source names below.
    amount = serializers.DecimalField(
        max_digits=40, decimal_places=18, min_value=Decimal(0), coerce_to_string=True
    )

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        for name in ("from", "to"):
            symbol = (data.get(name) or "").strip().upper()
            if not symbol.isalnum() or len(symbol) > 16:
                raise serializers.ValidationError({name: ["An asset symbol is required."]})
            values[name] = symbol
        if values["amount"] <= 0:
            raise serializers.ValidationError({"amount": ["Must be greater than zero."]})
        return values


class ConvertSerializer(serializers.Serializer):
    # `from` cannot be a Python identifier; the field is declared below.
    to = serializers.CharField()
    amount = serializers.CharField()
    result = serializers.CharField()
    price = serializers.CharField()
    status = serializers.CharField()


ConvertSerializer._declared_fields["from"] = serializers.CharField()
