"""WebSocket routes of the relay."""

from django.urls import path

from relay.consumers import RelayConsumer

websocket_urlpatterns = [path("ws/relay/", RelayConsumer.as_asgi())]
