"""Perkline settings: one module, read from the environment.

Every integration has a safe embedded default (SQLite, a filesystem Celery broker, local
memory cache) so `make demo` needs no server; production and CI point the same variables
at PostgreSQL and Redis. With DEBUG off the process refuses to start without its secrets.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("PERKLINE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """A real secret in production; in demo mode one generated once and kept in var/."""
    if key := env.str("SECRET_KEY", default=""):
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off. For a local demo, set DEBUG=1.")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # the operator console, with two-factor (config/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for the project's form renderer (config/forms.py)
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "loyalty.core",
    "loyalty.members",
    "loyalty.scoring",
    "loyalty.points",
    "perks.merchants",
    "perks.catalog",
    "perks.vouchers",
    "perks.billing",
    "surfaces.api",
    "surfaces.app",
    "surfaces.portal",
    "demo",
]

MIDDLEWARE = [
    "loyalty.core.requestid.RequestIdMiddleware",
    "surfaces.api.middleware.ApiBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "loyalty.core.headers.DocumentCSPMiddleware",  # CONTENT_SECURITY_POLICY below
    "loyalty.core.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.sessions.StaffIdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a refused sign-in into the lockout page
]

ROOT_URLCONF = "config.urls"
# Every form printed whole lays out its fields alike: label, help, input, errors (templates/forms/).
FORM_RENDERER = "config.forms.FormRenderer"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.i18n",  # LANGUAGE_CODE for <html lang>
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'perkline.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue behind one another instead of failing with "database is locked",
    # which is what makes the embedded demo safe with a web server and a worker.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not shared-cache memory, so a test's in-process worker thread can write too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind a transaction-pooling PgBouncer each transaction may get another server
    # connection, so nothing may outlive one: no server-side cursors (Django's iterator()
    # holds one across transactions in autocommit) and, unless the pooler carries them
    # (PgBouncer 1.21+ with max_prepared_statements), no prepared statements.
    transaction_pooling = env.bool("DATABASE_TRANSACTION_POOLING", default=False)
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = transaction_pooling
    # Statements run through loyalty.core.sql.prepared_cursor are prepared on a connection's
    # second run (a redemption's): the ORM's client-side binding never prepares. psycopg
    # prepares nothing when the threshold is None (0 would prepare at once).
    server_prepares = env.bool("DATABASE_SERVER_PREPARES", default=not transaction_pooling)
    DATABASES["default"]["OPTIONS"] = {
        "prepare_threshold": env.int("DATABASE_PREPARE_THRESHOLD", default=2) if server_prepares else None,
        # A database host that drops packets fails a new connection in seconds, not after
        # the system's TCP timeout of minutes (libpq's connect_timeout, in seconds).
        "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
    }
# A read replica (docs/operations.md, "Read replica"): only reads marked lag-tolerant go
# there (config/dbrouter.py); without DATABASE_REPLICA_URL there is no alias, no router and
# no cookie, and everything reads the primary. Its connection is set up as the primary's.
if replica_url := env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **DATABASES["default"],
        **env.db_url_config(replica_url),
        # Tests read the test database through it, as Django documents for replicas.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["config.dbrouter.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "loyalty.core.replica.ReadYourWritesMiddleware",
    )
# How long after a person's write their marked pages keep reading the primary.
DATABASE_REPLICA_STICKY_SECONDS = env.int("DATABASE_REPLICA_STICKY_SECONDS", default=10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (and throttling) ------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="perkline"),
            # A dead or unreachable cache Redis fails a request's cache call quickly
            # instead of holding its thread (and /healthz names it).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
}

# --- Health checks ---------------------------------------------------------------------

# `/healthz?deep=1` answers only `Authorization: Bearer <this>`, and nobody while it is empty.
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")

# --- Celery ----------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=f"file://{VAR_DIR / 'celery-results'}")
    (VAR_DIR / "celery-results").mkdir(exist_ok=True)
elif CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ (docs/operations.md, "RabbitMQ"): replicated quorum queues, and a send
    # counts only once the broker confirms it has the message. Quorum queues have no
    # global QoS (Celery detects them and sets the prefetch per consumer) and delay a
    # countdown on the broker, which needs a topic exchange rather than the direct one.
    # The health check's ping answers through RabbitMQ itself unless told otherwise.
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="rpc://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
    CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_WORKER_DETECT_QUORUM_QUEUES = True
else:
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
    # A broker host that drops packets fails a send after commit in 2 s rather than the
    # system's connect timeout (kombu's Redis transport sets none); see "When the broker
    # is down" in docs/operations.md.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = timedelta(hours=1)
# Our tasks report through the database, never through their return value: storing each
# result would cost every enqueue a subscription and every run a write to the backend.
# The health check's ping, and tests that wait on a task, ask for theirs explicitly.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="perkline")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Partitioned history (PostgreSQL: docs/operations.md, "Partitioned history") -------

# Months of each monthly-partitioned table to keep; older months are dropped whole by beat's
# partitions job. None keeps every month: score events (a score counts an event for up to
# twelve half-lives, years: loyalty/scoring/engine.py), usage (billing) and audit. Each is
# overridable as PARTITION_RETENTION_<TABLE> (e.g. PARTITION_RETENTION_MEMBERS_MEMBERLOOKUP=36,
# 0 to keep every month).
PARTITION_RETENTION: dict[str, int | None] = {
    table: env.int(f"PARTITION_RETENTION_{table.upper()}", default=months or 0) or None
    for table, months in {
        "members_memberlookup": 24,
        "members_notification": 12,
        "merchants_webhookattempt": 3,
        "scoring_scoresnapshot": 24,
        "scoring_scoreevent": None,
        "vouchers_usagerecord": None,
        "merchants_auditentry": None,
    }.items()
}
PARTITION_PREMAKE = env.int("PARTITION_PREMAKE", default=4)  # months made ahead

# --- Points ---------------------------------------------------------------------------

POINTS_EXPIRY_MONTHS = env.int("POINTS_EXPIRY_MONTHS", default=12)
POINTS_EXPIRY_NOTICE_DAYS = env.int("POINTS_EXPIRY_NOTICE_DAYS", default=30)

# --- Vouchers --------------------------------------------------------------------------

# How long after a redemption the merchant may still undo it (24 h by default: docs/integration.md).
REDEMPTION_REVERSAL_WINDOW = timedelta(hours=env.int("REDEMPTION_REVERSAL_WINDOW_HOURS", default=24))
# Members a campaign chunk issues to in one transaction (chosen by `make bench NAME=campaign_issue`).
CAMPAIGN_CHUNK_SIZE = env.int("CAMPAIGN_CHUNK_SIZE", default=10_000)

# --- Stripe ----------------------------------------------------------------------------

# No secret key: Stripe is off (deposits are waived or refused, no invoicing), never an error.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# The endpoints' signing secrets, comma-separated: the platform's and the Connect endpoint's.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# How long an invoice may stay unpaid before the merchant's new vouchers are paused.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=14)

# --- Auth, i18n, static ----------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Accounts: sign-in, lockout, two-factor, sessions, mail ------------------------------

# Where Django's own `login_required` views (password change) send a signed-out visitor;
# the portal's pages send theirs to the portal's sign-in, the console to its own.
LOGIN_URL = "app:login"
# Axes first: a locked-out address or account is refused before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After 50 failures from one address, or on one account, sign-in is refused for the
# cool-off (each refused attempt starts it again); attempts are kept in the database.
AXES_FAILURE_LIMIT = 50
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "loyalty.core.clientip.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not logged: only failures count
AXES_VERBOSE = False  # no banner at every start; lockouts are still logged, masked
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "token"]
# Proxies in front of the web processes that append to X-Forwarded-For (0: none, the
# client is REMOTE_ADDR). Lockouts by address count per client only when this is right.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# TOTP codes: operators must give one in the console; merchant owners may enrol one in the
# portal, and then must give one at sign-in.
OTP_TOTP_ISSUER = "Perkline"
# An operator without a device may enrol one from the console's sign-in (first device
# only). Off in production: there `manage.py totp_enrol <username>` gives them one.
ADMIN_TOTP_SELF_ENROL = env.bool("ADMIN_TOTP_SELF_ENROL", default=DEBUG)

# Members stay signed in on their phone for two weeks; staff and operators are signed out
# after 30 minutes without a request (config/sessions.py).
SESSION_COOKIE_AGE = 14 * 24 * 60 * 60
STAFF_SESSION_IDLE_SECONDS = 30 * 60
# How long re-entering the password covers a member's sensitive actions (loyalty/core/reauth.py).
PASSWORD_CONFIRM_SECONDS = 10 * 60

# Mail (password resets): the console in debug, otherwise EMAIL_URL, e.g.
# smtp+tls://user:password@smtp.example.com:587 (django-environ's syntax).
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Perkline <no-reply@localhost>")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates as "7 Dec 2026, 14:30" and 2026年12月7日 14:30, numbers grouped in thousands in both.
FORMAT_MODULE_PATH = ["config.formats"]
# A language chosen with the app's switch is kept for a year (before any choice, the
# browser's Accept-Language decides; a signed-in member's stored choice wins: surfaces/app/access.py).
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = not DEBUG
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Static files as collectstatic writes them, in the demo as in production: each under a
# name with its content's hash and beside a gzip copy (config/staticfiles.py), served by
# WhiteNoise from STATIC_ROOT alone, indexed once at start. STATIC_MANIFEST=0 serves the
# files of static/ as they are, uncollected: the tests do (pyproject.toml), and so may a
# developer editing CSS in a running server.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "config.staticfiles.HashedStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
if STATIC_MANIFEST:
    WHITENOISE_USE_FINDERS = False
    WHITENOISE_AUTOREFRESH = False

# --- Images (logos, perk images) ------------------------------------------------------------

# The address space of the child process that decodes a stored image to make its display
# sizes (perks/merchants/pixels.py): an image needing more ends that child, not the worker.
# Room for the largest image an upload may have (docs/operations.md, "Images").
IMAGE_RENDITION_MEMORY_MB = env.int("IMAGE_RENDITION_MEMORY_MB", default=512)

# --- Webhooks to partners ---------------------------------------------------------------

# How long a sent webhook may go unanswered before the delivery may be tried again; longer
# than the send's timeouts, so only a sender that died leaves an attempt open this long.
WEBHOOK_ATTEMPT_LEASE_SECONDS = env.int("WEBHOOK_ATTEMPT_LEASE_SECONDS", default=60)
# Plain http to this machine, for the demo and the tests' local receivers; never in production.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)

# --- Secrets at rest (webhook signing secrets) ------------------------------------------

# Fernet keys (32 random bytes, url-safe base64), comma-separated, newest first: values are
# encrypted with the first and decrypted with any (loyalty/core/crypto.py). Unset, a key is
# derived from SECRET_KEY, which `check --deploy` warns about; a malformed key stops startup.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])

# --- Partner API -----------------------------------------------------------------------

# Bodies over this are refused unread with 413 (docs/integration.md: "over 1 MB"); below
# DATA_UPLOAD_MAX_MEMORY_SIZE, so Django's own limit never answers first with a 400.
API_MAX_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * API_MAX_BODY_BYTES
# Requests per API key: "<count>/<second|minute|hour|day>". Counted in Redis when REDIS_URL
# is set (shared by every web process), else in each process's memory.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="6000/min")
# Refused API keys per client address (an IPv6 client per /64), counted like the above and
# only when a key is refused: past it, a wrong key gets 429 instead of 401. A good key
# from the same address keeps working (surfaces/api/throttling.py).
API_KEY_FAILURE_LIMIT = env.str("API_KEY_FAILURE_LIMIT", default="20/min")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "surfaces.api.exception_handler.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Perkline partner API",
    "DESCRIPTION": (
        "Check benefits, redeem vouchers and report events.\n\n"
        "Send `Authorization: Bearer <api key>`; writes need the scope each operation names. "
        'Errors are `{"error": {type, code, message, param}}`: branch on `code`. Every POST takes an '
        "`Idempotency-Key`; lists take `limit` and `starting_after`; bodies are at most 1 MiB. "
        "The integration guide is docs/integration.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PerkTypeEnum": "perks.catalog.models.PerkType",
        "ErrorTypeEnum": "surfaces.api.schema.ERROR_TYPES",
        "WebhookEventTypeEnum": "perks.merchants.services.webhooks.WEBHOOK_EVENT_TYPES",
        "PerkStatusEnum": "perks.catalog.models.PerkStatus",
        "VoucherStatusEnum": "perks.vouchers.models.VoucherStatus",
        "CampaignStatusEnum": "perks.vouchers.models.CampaignStatus",
        "BatchStatusEnum": "perks.vouchers.models.BatchStatus",
        "BatchItemStatusEnum": "perks.vouchers.models.BatchItemStatus",
        "DepositStatusEnum": "perks.billing.models.DepositStatus",
        "CapturePolicyEnum": "perks.billing.models.CapturePolicy",
    },
}

# --- Production hardening (what `check --deploy` asks for) ------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"

# --- Headers: Content-Security-Policy and Permissions-Policy -----------------------------

# Scripts, styles, images, fonts and connections from this origin only: no inline script
# or style anywhere (tests/config/test_headers.py scans the templates). Two kinds of page
# add to it: those with a card form, Stripe's origins (`stripe_csp_sources` in
# perks/billing/stripe_client.py); the API docs, data: images (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],  # the app's service worker (surfaces/app/pwa.py)
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Powerful browser features no page uses (card forms take cards, not the Payment Request
# API): off for every page and every frame in it (loyalty/core/headers.py). The portal's
# counter alone allows the camera, for itself, to scan codes (surfaces/portal/cashier.py).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

# --- Logging ---------------------------------------------------------------------------

LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "loyalty.core.requestid.RequestIdFilter"},
        # Voucher codes in logged paths are masked (loyalty/core/masking.py).
        "masked_paths": {"()": "loyalty.core.masking.MaskedPathFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # Not django.request's `request` extra: its repr is the unmasked path.
            "reserved_attrs": [*RESERVED_ATTRS, "request"],
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "masked_paths"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"filters": ["masked_paths"]},
        # runserver's request lines (the demo's), in the console's format like every other.
        "django.server": {"handlers": ["console"], "filters": ["masked_paths"], "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Scoring ---------------------------------------------------------------------------

# A member whose score falls below the tier's band keeps the tier this long (then moves down).
TIER_DOWNGRADE_GRACE_DAYS = env.int("TIER_DOWNGRADE_GRACE_DAYS", default=30)
# Score events arriving within this many seconds are recomputed together.
SCORE_RECOMPUTE_DEBOUNCE_SECONDS = env.int("SCORE_RECOMPUTE_DEBOUNCE_SECONDS", default=5)
# The nightly run writes standings this many members at a time (one short transaction each).
SCORE_BULK_CHUNK_SIZE = env.int("SCORE_BULK_CHUNK_SIZE", default=100_000)
MEMBER_PASS_TTL_SECONDS = env.int("MEMBER_PASS_TTL_SECONDS", default=60)
# work_mem for the nightly run's aggregate session on PostgreSQL.
SCORE_BULK_WORK_MEM = env.str("SCORE_BULK_WORK_MEM", default="256MB")
# Connections the nightly run writes standings on, in parallel (PostgreSQL only).
SCORE_BULK_WORKERS = env.int("SCORE_BULK_WORKERS", default=2)
