"""Routes of the legacy API, mounted at ``/v1/`` (docs/legacy-api.md). Rails ignores a trailing
slash, so each path takes one. Keep ``not_served`` last: any other ``/v1`` path goes to Rails
(``LEGACY_UPSTREAM_URL``), or is Rails' 404 when there is none."""

from django.urls import re_path

from migration.api import admin_views, foaf_reads, recovery_views, views
from migration.api import pending_views as pv
from migration.api import trustline_views as tv

app_name = "legacy"
urlpatterns = [
    re_path(r"^sessions/?$", views.SessionsView.as_view(), name="sessions"),
    re_path(r"^profile/?$", views.ProfileView.as_view(), name="profile"),
    re_path(r"^users/profile/?$", views.UsersProfileView.as_view(), name="users-profile"),
    re_path(r"^users/by_handle/(?P<handle>[^/]+)/?$", views.ByHandleView.as_view(), name="users-by-handle"),
    re_path(r"^users/handle_available/?$", views.HandleAvailableView.as_view(), name="users-handle-available"),
    re_path(r"^trustlines/?$", tv.TrustlinesView.as_view(), name="trustlines"),
    re_path(r"^trustlines/summary/?$", tv.TrustlineSummaryView.as_view(), name="trustlines-summary"),
    re_path(r"^trustlines/find_path/?$", tv.FindPathView.as_view(), name="trustlines-find-path"),
    re_path(
        r"^trustlines/execute_path_payment/?$", tv.ExecutePathPaymentView.as_view(), name="trustlines-path-payment"
    ),
    re_path(r"^trustlines/(?P<line_id>[^/]+)/payment/?$", tv.PaymentView.as_view(), name="trustline-payment"),
    re_path(r"^trustlines/(?P<line_id>[^/]+)/record_debt/?$", tv.RecordDebtView.as_view(), name="trustline-debt"),
    re_path(
        r"^trustlines/(?P<line_id>[^/]+)/record_receipt/?$", tv.RecordReceiptView.as_view(), name="trustline-receipt"
    ),
    re_path(r"^trustlines/(?P<line_id>[^/]+)/?$", tv.TrustlineView.as_view(), name="trustline"),
    re_path(r"^foaf/signatures/?$", tv.SignaturesView.as_view(), name="foaf-signatures"),
    re_path(r"^foaf/writes/(?P<buffer_id>\d+)/?$", tv.WriteView.as_view(), name="foaf-write"),
    re_path(r"^foaf/recoveries/?$", recovery_views.RecoveriesView.as_view(), name="foaf-recoveries"),
    re_path(
        r"^foaf/recoveries/(?P<recovery_id>[^/]+)/approve/?$",
        recovery_views.RecoveryApproveView.as_view(),
        name="foaf-recovery-approve",
    ),
    re_path(r"^foaf/trustlines/?$", foaf_reads.FoafTrustlinesView.as_view(), name="foaf-trustlines"),
    re_path(r"^foaf/trustlines/(?P<line_id>[^/]+)/?$", foaf_reads.FoafTrustlineView.as_view(), name="foaf-trustline"),
    re_path(
        r"^foaf/trustlines/(?P<line_id>[^/]+)/events/?$",
        foaf_reads.FoafTrustlineEventsView.as_view(),
        name="foaf-trustline-events",
    ),
    re_path(r"^admin/credit_loops/?$", admin_views.CreditLoopsView.as_view(), name="admin-credit-loops"),
    re_path(
        r"^admin/credit_loops/(?P<operation_id>[^/]+)/?$",
        admin_views.CreditLoopView.as_view(),
        name="admin-credit-loop",
    ),
    re_path(r"^subnets/(?P<subnet_id>[^/]+)/graph/?$", admin_views.SubnetGraphView.as_view(), name="subnet-graph"),
    re_path(r"^pending_payments/?$", pv.PendingPaymentsView.as_view(), name="pending-payments"),
    re_path(r"^pending_payments/(?P<pending_id>[^/]+)/confirm/?$", pv.ConfirmView.as_view(), name="pending-confirm"),
    re_path(r"^pending_payments/(?P<pending_id>[^/]+)/reject/?$", pv.RejectView.as_view(), name="pending-reject"),
    re_path(r"^pending_payments/(?P<pending_id>[^/]+)/mark_paid/?$", pv.MarkPaidView.as_view(), name="pending-paid"),
    re_path(r"^pending_payments/(?P<pending_id>[^/]+)/?$", pv.PendingPaymentView.as_view(), name="pending-payment"),
    # Passed through to Rails when LEGACY_UPSTREAM_URL is set, else Rails' 404 (docs/cutover.md).
    re_path(r"^.*$", views.not_served, name="not-found"),
]
