"""Routes of the legacy API, mounted at ``/v1/`` (docs/legacy-api.md). Rails ignores a trailing
slash, so each path takes one. Keep ``NotFoundView`` last: any other ``/v1`` path is Rails' 404."""

from django.urls import re_path

from migration.api import views

app_name = "legacy"
urlpatterns = [
    re_path(r"^sessions/?$", views.SessionsView.as_view(), name="sessions"),
    re_path(r"^profile/?$", views.ProfileView.as_view(), name="profile"),
    re_path(r"^users/profile/?$", views.UsersProfileView.as_view(), name="users-profile"),
    re_path(r"^users/by_handle/(?P<handle>[^/]+)/?$", views.ByHandleView.as_view(), name="users-by-handle"),
    re_path(r"^users/handle_available/?$", views.HandleAvailableView.as_view(), name="users-handle-available"),
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
