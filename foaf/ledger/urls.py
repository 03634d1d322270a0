"""``/api/routing/v1/`` (docs/routing.md "The service")."""

from django.urls import path, re_path

from foaf.ledger.views import LoopsView, PaymentsView, PaymentView

urlpatterns = [
    path("payments", PaymentsView.as_view(), name="routing-payments"),
    path("loops", LoopsView.as_view(), name="routing-loops"),
    re_path(r"^payments/(?P<route_hash>[0-9a-f]{64})$", PaymentView.as_view(), name="routing-payment"),
]
