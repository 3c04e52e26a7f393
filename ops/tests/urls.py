"""A money-moving stand-in for the Idempotency-Key tests: each run writes one row."""

import time

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError
from core.api.idempotency import idempotent
from ops.models import BackupRun


class PayView(APIView):
    throttle_classes: list = []

    @idempotent
    def post(self, request: Request) -> Response:
        row = BackupRun.objects.create(location=str(request.data.get("what", "")))
        time.sleep(float(request.data.get("delay", 0)))
        if request.data.get("fail") == "server":
            raise RuntimeError("the database went away mid-request")
        if request.data.get("fail") == "refused":
            raise ApiError("Not enough funds.", "insufficient_funds", 409)
        return Response({"paid": row.pk, "what": request.data.get("what")}, status=201)


urlpatterns = [
    path("pay/", PayView.as_view()),
    path("pay-again/", PayView.as_view()),
]
