"""The WSGI entry point, for HTTP-only deployments (WebSockets need the ASGI one)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foaf.settings")
application = get_wsgi_application()
