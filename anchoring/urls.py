"""``/api/anchoring/v1/`` (docs/anchoring.md)."""

from django.urls import path

from anchoring.views import ProofView, RequestsView, RequestView

urlpatterns = [
    path("requests", RequestsView.as_view(), name="anchoring-requests"),
    path("requests/<int:request_id>", RequestView.as_view(), name="anchoring-request"),
    path("requests/<int:request_id>/proof", ProofView.as_view(), name="anchoring-proof"),
]
