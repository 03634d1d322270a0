"""``/api/anchoring/v1/`` (docs/anchoring.md)."""

from django.urls import path

from anchoring.views import (
    ProofView,
    RequestsView,
    RequestView,
    SettlementEntryView,
    SettlementPackageView,
    SettlementsView,
    SettlementView,
)

urlpatterns = [
    path("requests", RequestsView.as_view(), name="anchoring-requests"),
    path("requests/<int:request_id>", RequestView.as_view(), name="anchoring-request"),
    path("requests/<int:request_id>/proof", ProofView.as_view(), name="anchoring-proof"),
    path("settlements", SettlementsView.as_view(), name="anchoring-settlements"),
    path("settlements/<int:settlement_id>", SettlementView.as_view(), name="anchoring-settlement"),
    path("settlements/<int:settlement_id>/entry", SettlementEntryView.as_view(), name="anchoring-settlement-entry"),
    path(
        "settlements/<int:settlement_id>/package", SettlementPackageView.as_view(), name="anchoring-settlement-package"
    ),
]
