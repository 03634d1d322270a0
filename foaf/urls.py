"""URL routes: probes, the API schema and docs, the admin, and each app's API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from foaf.health import HealthView, ReadyView

urlpatterns = [
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("admin/", admin.site.urls),
    path("relay/v1/", include("relay.urls")),
    path("api/anchoring/v1/", include("anchoring.urls")),
    path("api/routing/v1/", include("foaf.ledger.urls")),
    # The GrowOperative apps' Rails API, with its own bodies and errors (docs/legacy-api.md).
    path("v1/", include("migration.api.urls")),
    path("api/claim/v1/", include("migration.api.claim_views")),  # members move to their devices (docs/claim.md)
]

handler404 = "foaf.errors.not_found"
handler500 = "foaf.errors.server_error"
