from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.cached import cached_response
from core.api.pagination import PageNumberPagination
from core.api.refusals import Refusal, refusal_response
from core.decimals import format_plain
from core.versioned import Reads
from oracle import selectors, services
from oracle.api.serializers import (
    CandleSerializer,
    ConvertQuerySerializer,
    ConvertSerializer,
    HistoryQuerySerializer,
    PriceSerializer,
)

UNKNOWN_PAIR = Refusal("unknown_pair", "The oracle does not price %(pair)s.", 404)
PAIR_HALTED = Refusal("pair_halted", "%(pair)s is %(status)s: %(reason)s", 409)


def _price_or_404(pair: str):
    agg = selectors.price_get(pair)
    if agg is None:
        raise UNKNOWN_PAIR.error(pair=pair.upper())
    return agg


@extend_schema(
    tags=["prices"], summary="Every pair's current price", responses=PriceSerializer(many=True)
)
class PriceListView(ListAPIView):
    """Public. Read from the oracle's cache; never calls a source."""

    permission_classes = [AllowAny]
    serializer_class = PriceSerializer

    def get_queryset(self):
        return [agg.as_dict() for agg in selectors.price_list()]

    def list(self, request, *args, **kwargs):
        # The same answer for everyone until a price, a halt or an asset changes: cached as
        # the JSON sent.
        return cached_response(
            *self.read_cache(request),
            request,
            self,
            lambda: super(PriceListView, self).list(request, *args, **kwargs).data,
        )

    def read_cache(self, request: Request) -> tuple[Reads, str]:
        return selectors.cached_over_prices, "prices"


@extend_schema(tags=["prices"], summary="One pair's current price", responses=PriceSerializer)
class PriceDetailView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, pair: str) -> Response:
        return Response(_price_or_404(pair).as_dict())


class CandlePagination(PageNumberPagination):
    page_size = 500
    max_page_size = 1000


@extend_schema(
    tags=["prices"],
    summary="Price history as OHLC candles",
    parameters=[
        OpenApiParameter("interval", str, enum=["1m", "1h"], description="Candle width."),
    ],
    responses=CandleSerializer(many=True),
)
class PriceHistoryView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CandleSerializer
    pagination_class = CandlePagination

    def get_queryset(self):
        query = HistoryQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        pair = self.kwargs["pair"].upper()
        if pair not in selectors.direct_pairs():
            _price_or_404(pair)  # a known cross pair has no stored history
            raise NotFound("Only direct pairs have history.")
        return selectors.candle_list(
            pair=pair, interval=query.validated_data["interval"], limit=1000
        )


@extend_schema(
    tags=["prices"],
    summary="Convert an amount between two assets",
    parameters=[
        OpenApiParameter("from", str, required=True, description="Symbol, e.g. ETH."),
        OpenApiParameter("to", str, required=True, description="Symbol, e.g. ICP."),
        OpenApiParameter("amount", str, required=True, description="Decimal string, > 0."),
    ],
    responses={
        200: ConvertSerializer,
        404: refusal_response("The oracle does not price this pair.", UNKNOWN_PAIR),
        409: refusal_response("The pair has no tradeable price now.", PAIR_HALTED),
    },
    examples=[
        OpenApiExample(
            "ok",
            value={
                "from": "ETH",
                "to": "ICP",
                "amount": "1.5",
                "result": "645.1",
                "price": "430.0666",
                "status": "ok",
            },
            response_only=True,
        ),
        OpenApiExample(
            "halted",
            value={"detail": "ETH-ICP is halted: quorum", "code": "pair_halted"},
            response_only=True,
            status_codes=["409"],
        ),
    ],
)
class ConvertView(APIView):
    """Decimal end to end. A pair without a tradeable price is refused with `pair_halted`."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        query = ConvertQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        agg = _price_or_404(f"{data['from']}-{data['to']}")
        if not agg.tradeable or agg.price is None:
            raise PAIR_HALTED.error(
                pair=agg.pair, status=agg.status, reason=agg.halt_reason or agg.detail or "no price"
            )
        result = services.convert_amount(amount=data["amount"], price=agg.price)
        return Response(
            {
                "from": data["from"],
                "to": data["to"],
                "amount": format_plain(data["amount"]),
                "result": format_plain(result),
                "price": format(agg.price, "f"),
                "status": str(agg.status),
            }
        )
