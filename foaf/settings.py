"""Django settings, read from the environment (``docs/settings.md`` lists every variable).

Embedded defaults need no server: SQLite under ``FOAF_DATA_DIR``, a filesystem Celery transport,
an in-memory channel layer and cache. ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL`` (Celery broker
and results, channel layer, cache) and ``LEGACY_DATABASE_URL`` (the GrowOperative MySQL/MariaDB)
switch the same code onto real services. A malformed value stops start-up with a message that
names the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from foaf.env import Env

env = Env()
BASE_DIR = Path(__file__).resolve().parent.parent

FOAF_ENV = env.choice("FOAF_ENV", "development", ("development", "production"))
PRODUCTION = FOAF_ENV == "production"
DEBUG = env.boolean("DJANGO_DEBUG", not PRODUCTION)

DATA_DIR = Path(env.string("FOAF_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env.string("SECRET_KEY", required=PRODUCTION) or "development-only-not-secret-" + "x" * 32
if PRODUCTION and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters in production")
ALLOWED_HOSTS = env.strings("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list this service's host names in production")
CSRF_TRUSTED_ORIGINS = env.strings("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "foaf.apps.FoafConfig",
    "foaf.ledger",
    "foaf.custody",
    "migration",
    "relay",
    "anchoring",
]

MIDDLEWARE = [
    "foaf.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Outside the kept answers, so they are compared too: what a /v1 credit call does in each phase
    # of the cut-over (docs/cutover.md); nothing at all while LEGACY_UPSTREAM_URL is unset.
    "migration.cutover.middleware.CutoverMiddleware",
    # Innermost: kept legacy answers skip URL resolution and DRF (docs/legacy-api.md, "Caching").
    "migration.api.middleware.KeptAnswerMiddleware",
]

ROOT_URLCONF = "foaf.urls"
WSGI_APPLICATION = "foaf.wsgi.application"
ASGI_APPLICATION = "foaf.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -----------------------------------------------------------------------------
DATABASE_URL = env.url(
    "DATABASE_URL", ("sqlite", "postgres", "postgresql", "pgsql"), default=f"sqlite:///{DATA_DIR / 'foaf.sqlite3'}"
)
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 0, minimum=0))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Send parameters apart from the SQL (no client-side quoting of every value): the import's
    # batches pass thousands of them.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database too: a Celery worker in another process must see it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-foaf.sqlite3")}
    # Wait for a writer instead of failing at once: the web process and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The GrowOperative database being migrated (read-only to us). Empty: no live legacy source.
LEGACY_DATABASE_URL = env.url("LEGACY_DATABASE_URL", ("mysql", "mariadb"))


# --- Keys ------------------------------------------------------------------------------------
def _secret_32_bytes(name: str, *, development_file: str, required: bool) -> bytes | None:
    """A 32-byte secret given as 64 hex digits in ``name`` (or ``name_FILE``).

    In development, when unset, a random one is kept in FOAF_DATA_DIR (created on first use,
    mode 0600) so that ``make run`` needs no configuration; production must set it.
    """
    value = env.string(name, required=required).strip()
    if not value and not PRODUCTION:
        path = DATA_DIR / development_file
        if not path.exists():
            import secrets

            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        value = path.read_text().strip()
    if not value:
        return None
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise ImproperlyConfigured(f"{name} must be 64 hex digits (32 bytes)")
    return secret


# Seals the private keys the service holds for members. Keep it apart from database backups.
_kek = _secret_32_bytes("FOAF_KEY_ENCRYPTION_KEY", development_file="key-encryption-key", required=PRODUCTION)
if _kek is None:
    raise ImproperlyConfigured("FOAF_KEY_ENCRYPTION_KEY must be set")
KEY_ENCRYPTION_KEY: bytes = _kek
# The Ed25519 seed of the operator's migration key, which attests imported states. Only the
# import needs it: without it, import_legacy stops with a message naming the variable.
OPERATOR_SIGNING_KEY = _secret_32_bytes(
    "FOAF_OPERATOR_SIGNING_KEY", development_file="operator-signing-key", required=False
)
# Public keys (hex) whose attestation of an imported state is accepted; our own migration key's
# public key is always among them.
OPERATOR_KEYS = [k.lower() for k in env.strings("FOAF_OPERATOR_KEYS", [])]
if OPERATOR_SIGNING_KEY is not None:
    import nacl.signing

    _own_operator_key = bytes(nacl.signing.SigningKey(OPERATOR_SIGNING_KEY).verify_key).hex()
    if _own_operator_key not in OPERATOR_KEYS:
        OPERATOR_KEYS.append(_own_operator_key)
for _key in OPERATOR_KEYS:
    if len(_key) != 64 or any(c not in "0123456789abcdef" for c in _key):
        raise ImproperlyConfigured(f"FOAF_OPERATOR_KEYS: {_key!r} is not a 32-byte hex public key")
# How long a proposal made by this service waits for the counterparty, by default.
PROPOSAL_TTL_SECONDS = env.integer("FOAF_PROPOSAL_TTL_SECONDS", 7 * 24 * 3600, minimum=10)

# --- Redis: Celery, channel layer, cache ----------------------------------------------------
REDIS_URL = env.url("REDIS_URL", ("redis", "rediss", "unix"))

CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = False  # never: eager mode hides serialization and retry behaviour
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if REDIS_URL:
    CELERY_BROKER_URL: str = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Late-acked tasks come back after this long if their worker vanished.
    _visibility_s = env.integer("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=30)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": _visibility_s}
else:
    # Embedded: messages are files under FOAF_DATA_DIR, so web, worker and beat processes share them.
    _queue = DATA_DIR / "celery" / "queue"
    _queue.mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "celery" / "results").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(DATA_DIR / "celery" / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'celery' / 'results'}"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celery" / "beat-schedule")
# Periodic tasks, in code. Each entry's task is idempotent: beat may fire it twice.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "record-beat-heartbeat": {"task": "foaf.tasks.record_heartbeat", "schedule": timedelta(seconds=30)},
    "expire-orphaned-proposals": {
        "task": "foaf.ledger.tasks.expire_orphaned_proposals",
        "schedule": timedelta(seconds=env.integer("FOAF_EXPIRY_INTERVAL_SECONDS", 30, minimum=1)),
    },
    "relay-purge-mailboxes": {
        "task": "relay.tasks.purge_mailboxes",
        "schedule": timedelta(seconds=env.integer("FOAF_RELAY_MAILBOX_PURGE_INTERVAL_SECONDS", 300, minimum=1)),
    },
}

if REDIS_URL:
    # No read timeout: channels_redis waits up to 5 s for a message with BLPOP, and redis-py 8's
    # default 5 s socket timeout would end an idle subscriber's read first (its consumer dies;
    # channels_redis#422). Connects still time out, and dead peers are found by TCP keepalive.
    # The pool refuses connections beyond its size instead of waiting: sized for reconnect storms.
    _CHANNEL_REDIS = {
        "address": REDIS_URL,
        "socket_timeout": None,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "max_connections": env.integer("FOAF_CHANNEL_LAYER_MAX_CONNECTIONS", 1000, minimum=10),
    }
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [_CHANNEL_REDIS]}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


# --- Relay: mailboxes, signed requests, WebSocket limits, rate limits (docs/relay.md §13-§16) ---
def _relay_origin(name: str) -> str:
    """The relay's public origin (``https://relay.example``) that clients sign; empty: each request's own."""
    from urllib.parse import urlsplit

    value = env.string(name, "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ImproperlyConfigured(f"{name}={value!r} is not an origin such as https://relay.example")
    from relay.protocol.auth import origin_of

    return origin_of(value)


def _rate(name: str, default: str) -> tuple[int, int]:
    """A token bucket as PER_MINUTE/BURST: refilled at PER_MINUTE tokens a minute, holding at most BURST."""
    value = env.string(name, default).strip()
    per_minute, _, burst = value.partition("/")
    if not (per_minute.isdigit() and burst.isdigit() and int(per_minute) >= 1 and int(burst) >= 1):
        raise ImproperlyConfigured(f"{name}={value!r} is not PER_MINUTE/BURST (two whole numbers, at least 1)")
    return int(per_minute), int(burst)


def _networks(name: str) -> list[str]:
    import ipaddress

    networks = []
    for value in env.strings(name, []):
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {value!r} is not an IP address or network") from None
    return networks


RELAY_ORIGIN = _relay_origin("FOAF_RELAY_ORIGIN")
RELAY_AUTH_MAX_SKEW_SECONDS = env.integer("FOAF_RELAY_AUTH_MAX_SKEW_SECONDS", 300, minimum=5, maximum=3600)
# Enough for any bilateral message (65 536 bytes) in a NaCl box (24 bytes of nonce, 16 of tag).
RELAY_MAILBOX_MAX_MESSAGE_BYTES = env.integer(
    "FOAF_RELAY_MAILBOX_MAX_MESSAGE_BYTES", 65_576, minimum=64, maximum=1024 * 1024
)
RELAY_MAILBOX_MAX_MESSAGES = env.integer("FOAF_RELAY_MAILBOX_MAX_MESSAGES", 1000, minimum=1)
RELAY_MAILBOX_MAX_BYTES = env.integer(
    "FOAF_RELAY_MAILBOX_MAX_BYTES", 16 * 1024 * 1024, minimum=RELAY_MAILBOX_MAX_MESSAGE_BYTES
)
RELAY_MAILBOX_TTL_SECONDS = env.integer("FOAF_RELAY_MAILBOX_TTL_SECONDS", 14 * 86400, minimum=60)
RELAY_WS_MAX_SUBSCRIPTIONS = env.integer("FOAF_RELAY_WS_MAX_SUBSCRIPTIONS", 16, minimum=1, maximum=256)
# Proxies whose X-Forwarded-For names the client (the rightmost address not itself a trusted proxy).
RELAY_TRUSTED_PROXIES = _networks("FOAF_RELAY_TRUSTED_PROXIES")
RELAY_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "address": _rate("FOAF_RELAY_RATE_ADDRESS", "600/200"),  # HTTP requests under /relay/v1/, per client address
    "key": _rate("FOAF_RELAY_RATE_KEY", "120/60"),  # signed requests (HTTP, WebSocket auth and ack), per key
    "deposit": _rate("FOAF_RELAY_RATE_DEPOSIT", "60/30"),  # mailbox deposits, per sender key
    "connect": _rate("FOAF_RELAY_RATE_CONNECT", "60/30"),  # WebSocket connections, per client address
    "frame": _rate("FOAF_RELAY_RATE_FRAME", "600/120"),  # frames, per WebSocket connection
    "flood": _rate("FOAF_RELAY_RATE_FLOOD", "60/20"),  # frames refused for rate, per connection, before it is closed
}
RELAY_RATE_NAMESPACE = ""  # a prefix for the buckets' names (tests give each test its own)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "foaf.errors.api_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FOAF bridge API",
    "DESCRIPTION": "Bilateral credit relationships, the relay, anchoring and the migration from GrowOperative.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging --------------------------------------------------------------------------------
LOG_FORMAT = env.choice("LOG_FORMAT", "json" if PRODUCTION else "text", ("json", "text"))
LOG_LEVEL: str = env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "foaf.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "foaf.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- The rest -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-ca"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Serve static files (the admin's, the API docs') from the ASGI app itself. Off in production,
# where a reverse proxy serves STATIC_ROOT after `collectstatic`.
SERVE_STATIC = env.boolean("FOAF_SERVE_STATIC", not PRODUCTION)

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


# --- Relay federation (docs/relay.md §12) -----------------------------------------------------
def _relay_peers(name: str) -> list[str]:
    """Base URLs (http or https) of the relays whose public events this relay pulls."""
    from urllib.parse import urlsplit

    from foaf.env import redact_url

    peers = []
    for value in env.strings(name, []):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ImproperlyConfigured(f"{name}: {redact_url(value)!r} is not a base URL such as https://relay.example")
        if parts.username or parts.password:
            raise ImproperlyConfigured(f"{name}: {redact_url(value)!r}: a peer URL carries no credentials")
        peers.append(value.rstrip("/"))
    return peers


RELAY_PEERS = _relay_peers("FOAF_RELAY_PEERS")
RELAY_FEDERATION_INTERVAL_SECONDS = env.integer("FOAF_RELAY_FEDERATION_INTERVAL_SECONDS", 60, minimum=1)
RELAY_FEDERATION_PAGE_SIZE = env.integer("FOAF_RELAY_FEDERATION_PAGE_SIZE", 200, minimum=1, maximum=500)
RELAY_FEDERATION_TIMEOUT_SECONDS = env.integer("FOAF_RELAY_FEDERATION_TIMEOUT_SECONDS", 10, minimum=1, maximum=300)
if RELAY_PEERS:
    CELERY_BEAT_SCHEDULE["relay-federate"] = {
        "task": "relay.tasks.federate",
        "schedule": timedelta(seconds=RELAY_FEDERATION_INTERVAL_SECONDS),
        # A run left waiting in the queue for a whole interval is dropped: the next one does its work.
        "options": {"expires": RELAY_FEDERATION_INTERVAL_SECONDS},
    }

# Anchoring (docs/anchoring.md): Merkle batches of state hashes, anchored by a backend.
ANCHOR_BACKEND = env.choice("FOAF_ANCHOR_BACKEND", "local", ("local", "radix"))
ANCHOR_INTERVAL_SECONDS = env.integer("FOAF_ANCHOR_INTERVAL_SECONDS", 60, minimum=1)
ANCHOR_MAX_BATCH_LEAVES = env.integer("FOAF_ANCHOR_MAX_BATCH_LEAVES", 100_000, minimum=1, maximum=2**32)
# The radix backend (docs/anchoring.md, "The radix backend"): Babylon transactions through a Gateway.
ANCHOR_RADIX_NETWORK = env.choice("FOAF_ANCHOR_RADIX_NETWORK", "stokenet", ("stokenet", "mainnet"))
ANCHOR_RADIX_GATEWAY_URL = env.string(
    "FOAF_ANCHOR_RADIX_GATEWAY_URL", f"https://{ANCHOR_RADIX_NETWORK}.radixdlt.com"
).rstrip("/")
if not ANCHOR_RADIX_GATEWAY_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("FOAF_ANCHOR_RADIX_GATEWAY_URL must be an http(s) URL")
# The notary and fee payer's Ed25519 seed: 64 hex digits in FOAF_ANCHOR_RADIX_KEY (or the file
# FOAF_ANCHOR_RADIX_KEY_FILE names), or sealed under the key-encryption key in the file
# FOAF_ANCHOR_RADIX_SEALED_KEY_FILE names (``manage.py anchor_radix_key --generate``). Never logged.
_radix_seed = env.string("FOAF_ANCHOR_RADIX_KEY").strip()
try:
    ANCHOR_RADIX_KEY: bytes | None = bytes.fromhex(_radix_seed) if _radix_seed else None
except ValueError:
    ANCHOR_RADIX_KEY = b""
if ANCHOR_RADIX_KEY is not None and len(ANCHOR_RADIX_KEY) != 32:
    raise ImproperlyConfigured("FOAF_ANCHOR_RADIX_KEY must be 64 hex digits (a 32-byte Ed25519 seed)")
del _radix_seed
ANCHOR_RADIX_SEALED_KEY_FILE = env.string("FOAF_ANCHOR_RADIX_SEALED_KEY_FILE")
if ANCHOR_BACKEND == "radix" and ANCHOR_RADIX_KEY is None and not ANCHOR_RADIX_SEALED_KEY_FILE:
    raise ImproperlyConfigured(
        "FOAF_ANCHOR_BACKEND=radix needs FOAF_ANCHOR_RADIX_KEY (or _FILE) or FOAF_ANCHOR_RADIX_SEALED_KEY_FILE"
    )
ANCHOR_RADIX_FEE_LOCK = env.string("FOAF_ANCHOR_RADIX_FEE_LOCK", "10").strip()
if not ANCHOR_RADIX_FEE_LOCK.replace(".", "", 1).isdigit():
    raise ImproperlyConfigured("FOAF_ANCHOR_RADIX_FEE_LOCK must be a positive decimal amount of XRD")
ANCHOR_RADIX_EPOCH_WINDOW = env.integer("FOAF_ANCHOR_RADIX_EPOCH_WINDOW", 10, minimum=2, maximum=8640)
ANCHOR_RADIX_TIMEOUT_SECONDS = env.integer("FOAF_ANCHOR_RADIX_TIMEOUT_SECONDS", 10, minimum=1, maximum=300)
ANCHOR_RADIX_POLL_SECONDS = env.integer("FOAF_ANCHOR_RADIX_POLL_SECONDS", 30, minimum=0, maximum=600)
ANCHOR_RADIX_MAX_BACKOFF_SECONDS = env.integer("FOAF_ANCHOR_RADIX_MAX_BACKOFF_SECONDS", 600, minimum=1)
ANCHOR_RADIX_MAX_ATTEMPTS = env.integer("FOAF_ANCHOR_RADIX_MAX_ATTEMPTS", 3, minimum=1, maximum=100)
# --- multi-hop payments of hosted members (foaf.ledger.hosting, docs/routing.md) --------------
ROUTING_DELIVERY_GIVE_UP_SECONDS = env.integer("FOAF_ROUTING_DELIVERY_GIVE_UP_SECONDS", 6 * 3600, minimum=60)
ROUTING_DELIVERY_MAX_BACKOFF_SECONDS = env.integer("FOAF_ROUTING_DELIVERY_MAX_BACKOFF_SECONDS", 300, minimum=1)
ROUTING_TICK_SECONDS = env.integer("FOAF_ROUTING_TICK_SECONDS", 30, minimum=1)
ROUTING_MAILBOX_SECONDS = env.integer("FOAF_ROUTING_MAILBOX_SECONDS", 5, minimum=1)
CELERY_BEAT_SCHEDULE["routing-deliver-due"] = {
    "task": "foaf.ledger.tasks.deliver_due",
    "schedule": timedelta(seconds=ROUTING_TICK_SECONDS),
    "options": {"expires": ROUTING_TICK_SECONDS},
}
CELERY_BEAT_SCHEDULE["routing-collect-mailboxes"] = {
    "task": "foaf.ledger.tasks.collect_mailboxes",
    "schedule": timedelta(seconds=ROUTING_MAILBOX_SECONDS),
    "options": {"expires": ROUTING_MAILBOX_SECONDS},
}
CELERY_BEAT_SCHEDULE["routing-tick-routes"] = {
    "task": "foaf.ledger.tasks.tick_routes",
    "schedule": timedelta(seconds=ROUTING_TICK_SECONDS),
    "options": {"expires": ROUTING_TICK_SECONDS},
}

CELERY_BEAT_SCHEDULE["anchoring-anchor-pending"] = {
    "task": "anchoring.tasks.anchor_pending",
    "schedule": timedelta(seconds=ANCHOR_INTERVAL_SECONDS),
    "options": {"expires": ANCHOR_INTERVAL_SECONDS},
}
CELERY_BEAT_SCHEDULE["anchoring-advance-settlements"] = {
    "task": "anchoring.tasks.advance_settlements",
    "schedule": timedelta(seconds=ANCHOR_INTERVAL_SECONDS),
    "options": {"expires": ANCHOR_INTERVAL_SECONDS},
}

# On-chain settlement, off-chain side (docs/anchoring.md "Settlement", docs/spec/settlement.md):
# the package's Radix manifest calls the settlement component at this address on this network.
SETTLEMENT_NETWORK = env.choice("FOAF_SETTLEMENT_NETWORK", "stokenet", ("stokenet", "mainnet", "simulator"))
SETTLEMENT_COMPONENT_ADDRESS = env.string("FOAF_SETTLEMENT_COMPONENT_ADDRESS").strip()
if SETTLEMENT_COMPONENT_ADDRESS and not SETTLEMENT_COMPONENT_ADDRESS.startswith("component_"):
    raise ImproperlyConfigured("FOAF_SETTLEMENT_COMPONENT_ADDRESS must be a component address (component_...)")
SETTLEMENT_FEE_LOCK = env.string("FOAF_SETTLEMENT_FEE_LOCK", "10").strip()
if not SETTLEMENT_FEE_LOCK.replace(".", "", 1).isdigit():
    raise ImproperlyConfigured("FOAF_SETTLEMENT_FEE_LOCK must be a positive decimal amount of XRD")
SETTLEMENT_MAX_LOG_ENTRIES = env.integer("FOAF_SETTLEMENT_MAX_LOG_ENTRIES", 10_000, minimum=0)


# --- Legacy API (/v1/, docs/legacy-api.md): the GrowOperative apps' tokens and logins -----------
def _legacy_bridge_enabled(name: str) -> bool:
    """Rails' rule for the HS256 bridge switch: on when unset, blank or anything else; off only for
    ``false``, ``0``, ``no`` or ``off`` in any case (so an unknown value never locks the apps out)."""
    return env.string(name, "").strip().lower() not in {"false", "0", "no", "off"}


def _legacy_jwt_secret(name: str, *, required: bool) -> str:
    """Rails' ``SECRET_KEY_BASE``, which signs the HS256 bridge tokens. Development: a random one
    kept in FOAF_DATA_DIR (mode 0600) when unset, so ``make run`` logs members in without setup."""
    value = env.string(name, required=required).strip()
    if not value and not PRODUCTION:
        path = DATA_DIR / "legacy-jwt-secret"
        if not path.exists():
            import secrets

            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(64))
        value = path.read_text().strip()
    if value and len(value.encode()) < 32:
        raise ImproperlyConfigured(f"{name} must be at least 32 bytes (Rails' SECRET_KEY_BASE is 128 hex digits)")
    return value


LEGACY_AUD = env.string("FOAF_AUD", "growoperative").strip()
LEGACY_AUTH_ISSUER = env.string("FOAF_AUTH_ISSUER", "auth.foaf.io").strip()
LEGACY_AUTH_LEEWAY_SECONDS = env.integer("FOAF_AUTH_LEEWAY_SECONDS", 30, minimum=0, maximum=300)
# The JWKS of auth.foaf.io (http(s) or file://, re-read hourly and on an unknown kid), or the JWKS
# itself as JSON in FOAF_AUTH_JWKS (or the file FOAF_AUTH_JWKS_FILE names), which then wins.
LEGACY_AUTH_JWKS_URL = env.url(
    "FOAF_AUTH_JWKS_URL", ("https", "http", "file"), default="https://auth.foaf.io/.well-known/jwks.json"
)
LEGACY_AUTH_JWKS = env.string("FOAF_AUTH_JWKS").strip()
# auth.foaf.io's revocation snapshot (its own JSON format; re-read every 5 minutes), from a URL
# (http(s) or file://) or inline as JSON in FOAF_AUTH_REVOCATION_SNAPSHOT (or _FILE), which wins.
LEGACY_AUTH_REVOCATION_URL = env.url(
    "FOAF_AUTH_REVOCATION_SNAPSHOT_URL",
    ("https", "http", "file"),
    default="https://auth.foaf.io/v1/revocations/snapshot",
)
LEGACY_AUTH_REVOCATION_SNAPSHOT = env.string("FOAF_AUTH_REVOCATION_SNAPSHOT").strip()
_legacy_inline = {"FOAF_AUTH_JWKS": LEGACY_AUTH_JWKS, "FOAF_AUTH_REVOCATION_SNAPSHOT": LEGACY_AUTH_REVOCATION_SNAPSHOT}
for _name, _inline in _legacy_inline.items():
    if _inline:
        import json

        try:
            if not isinstance(json.loads(_inline), dict):
                raise ValueError("not an object")
        except ValueError as _exc:
            raise ImproperlyConfigured(f"{_name} is not a JSON object: {_exc}") from None
LEGACY_AUTH_SERVICE_TOKEN = env.string("FOAF_AUTH_SERVICE_TOKEN")
# POST /v1/sessions forwards to this auth service (auth.foaf.io's base URL) when set; otherwise the
# imported Devise hashes are checked here and an HS256 token of the Rails-minted v1 form is issued.
LEGACY_AUTH_SERVICE_URL = env.url("LEGACY_AUTH_SERVICE_URL", ("https", "http")).rstrip("/")
LEGACY_AUTH_SERVICE_TIMEOUT_SECONDS = env.integer("LEGACY_AUTH_SERVICE_TIMEOUT_SECONDS", 10, minimum=1, maximum=120)
LEGACY_HS256_BRIDGE_ENABLED = _legacy_bridge_enabled("FOAF_AUTH_HS256_BRIDGE_ENABLED")
if not LEGACY_HS256_BRIDGE_ENABLED and not LEGACY_AUTH_SERVICE_URL:
    raise ImproperlyConfigured(
        "FOAF_AUTH_HS256_BRIDGE_ENABLED is off but LEGACY_AUTH_SERVICE_URL is unset: logins would issue "
        "HS256 tokens that every endpoint then refuses. Set LEGACY_AUTH_SERVICE_URL or keep the bridge on."
    )
LEGACY_JWT_SECRET = _legacy_jwt_secret("LEGACY_JWT_SECRET", required=PRODUCTION and LEGACY_HS256_BRIDGE_ENABLED)
# Devise: hashes are bcrypt of password + pepper; a hash below this cost is re-hashed on a good login.
LEGACY_BCRYPT_COST = env.integer("LEGACY_BCRYPT_COST", 12, minimum=4, maximum=20)
LEGACY_DEVISE_PEPPER = env.string("LEGACY_DEVISE_PEPPER")
# Login attempts (POST /v1/sessions), token buckets PER_MINUTE/BURST; an attempt over either is
# answered exactly as a wrong password is.
LEGACY_LOGIN_RATE_USER_NAME = _rate("FOAF_LEGACY_LOGIN_RATE_USER_NAME", "5/10")
LEGACY_LOGIN_RATE_ADDRESS = _rate("FOAF_LEGACY_LOGIN_RATE_ADDRESS", "30/60")
# GET /v1/users/by_handle/:handle, per client address per clock minute (Rails: 60).
LEGACY_HANDLE_LOOKUPS_PER_MINUTE = env.integer("FOAF_LEGACY_HANDLE_LOOKUPS_PER_MINUTE", 60, minimum=1)
LEGACY_RATE_NAMESPACE = ""  # a prefix for the counters' names (tests give each test its own)
# Legacy API writes (migration.api.ledger_writes): the import's currency, and how long
# execute_path_payment carries its route's messages itself before answering 202 (0: never waits).
LEGACY_CURRENCY = "CAD"
LEGACY_PATH_PAYMENT_WAIT_SECONDS = env.integer("FOAF_LEGACY_PATH_PAYMENT_WAIT_SECONDS", 5, minimum=0, maximum=30)
# Answers and verified tokens the legacy API keeps per process while the database says nothing
# they were made from changed (migration.api.freshness): how many of each, least recently used out.
LEGACY_API_CACHE_ANSWERS = env.integer("FOAF_LEGACY_API_CACHE_ANSWERS", 4096, minimum=0)
LEGACY_API_CACHE_TOKENS = env.integer("FOAF_LEGACY_API_CACHE_TOKENS", 8192, minimum=0)
CELERY_BEAT_SCHEDULE["custody-tell-recoveries"] = {
    "task": "foaf.custody.tasks.tell_recoveries",
    "schedule": timedelta(seconds=env.integer("FOAF_CUSTODY_TELL_SECONDS", 60, minimum=1)),
    "options": {"expires": 60},
}
CELERY_BEAT_SCHEDULE["legacy-api-compact-view-changes"] = {
    "task": "migration.tasks.compact_view_changes",
    "schedule": timedelta(seconds=env.integer("FOAF_LEGACY_API_COMPACT_SECONDS", 60, minimum=1)),
    "options": {"expires": 60},
}
# /v1/foaf/trustlines* and /v1/admin/credit_loops*: Rails answered them only with FOAF publishing on.
# This service is the ledger, so they are on unless FOAF_WRITE_ENABLED is false/0/no/off (then 400).
LEGACY_FOAF_READS_ENABLED = _legacy_bridge_enabled("FOAF_WRITE_ENABLED")
# --- The shadow period and the cut-over (docs/cutover.md) -------------------------------------------
# Rails, for the /v1 paths this service does not serve (passed through, bodies streamed), and for
# credit during the shadow period. Empty: those paths are Rails' 404, as before.
LEGACY_UPSTREAM_URL = env.url("LEGACY_UPSTREAM_URL", ("http", "https")).rstrip("/")
# Seconds to wait for Rails to connect and for each read of a passed-through answer.
LEGACY_UPSTREAM_TIMEOUT_SECONDS = env.integer("LEGACY_UPSTREAM_TIMEOUT_SECONDS", 30, minimum=1, maximum=600)
# The whole Rails call of a shadow comparison (made after the member was answered); over it: a timeout diff.
LEGACY_SHADOW_TIMEOUT_SECONDS = env.integer("LEGACY_SHADOW_TIMEOUT_SECONDS", 5, minimum=1, maximum=120)
# Threads per process asking Rails for comparisons, and comparisons that may wait for one (more are skipped).
LEGACY_SHADOW_WORKERS = env.integer("LEGACY_SHADOW_WORKERS", 4, minimum=1, maximum=64)
LEGACY_SHADOW_QUEUE = env.integer("LEGACY_SHADOW_QUEUE", 200, minimum=1)
# How long a process keeps the cut-over phase it read (one query per period, not per request).
LEGACY_CUTOVER_PHASE_SECONDS = env.integer("LEGACY_CUTOVER_PHASE_SECONDS", 2, minimum=0, maximum=60)
