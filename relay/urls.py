"""HTTP routes of the relay, mounted at ``/relay/v1/`` (docs/relay.md §8, §14)."""

from django.urls import path, re_path

from relay import route_views, views

HEX32 = views.HEX32

app_name = "relay"
urlpatterns = [
    path("events", views.EventsView.as_view(), name="events"),
    re_path(rf"^events/(?P<event_id>{HEX32})$", views.EventView.as_view(), name="event"),
    path("changes", views.ChangesView.as_view(), name="changes"),
    path("graph", views.GraphView.as_view(), name="graph"),
    re_path(rf"^neighbourhood/(?P<key>{HEX32})$", views.NeighbourhoodView.as_view(), name="neighbourhood"),
    re_path(rf"^profiles/(?P<key>{HEX32})$", views.ProfileView.as_view(), name="profile"),
    path("listings", views.ListingsView.as_view(), name="listings"),
    re_path(rf"^mailboxes/(?P<key>{HEX32})$", views.MailboxDepositView.as_view(), name="mailbox-deposit"),
    path("mailbox", views.MailboxView.as_view(), name="mailbox"),
    path("mailbox/ack", views.MailboxAckView.as_view(), name="mailbox-ack"),
    path("routes", route_views.RoutesView.as_view(), name="routes"),
    path("maxflow", route_views.MaxFlowView.as_view(), name="maxflow"),
]
