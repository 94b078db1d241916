"""Skills Forward Badges settings: every value comes from the environment (see .env.example).

The defaults are the embedded demo set-up (SQLite, a file cache, a filesystem Celery broker,
emails to the console) so that a fresh checkout runs with no configuration at all.
"""

import io
import re
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _env_file_text(path: Path) -> str:
    """The settings file as .env.example writes it: a " # comment" after an unquoted value is not
    part of the value (Docker Compose reads env files the same way); a "#" with no space before it
    is (a secret key may hold one). An empty value is left out: absent, so the default applies."""
    text = path.read_text(encoding="utf8")
    text = re.sub(r"(?m)^([A-Za-z_0-9]+=(?![\'\"])[^\n]*?)[ \t]+(#.*)?$", r"\1", text)
    return re.sub(r"(?m)^[A-Za-z_0-9]+=$\n?", "", text)


# The settings file: .env beside manage.py unless SFB_ENV_FILE names another.
ENV_FILE = Path(env.str("SFB_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(io.StringIO(_env_file_text(ENV_FILE)), overwrite=False)
# After .env is read, so that it may set SFB_VAR_DIR too. Settings create no folder: the ones the
# demo's stores need are made at start-up (skillsforward.apps.local_folders).
VAR_DIR = Path(env.str("SFB_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-demo-key-change-me-" + "x" * 32)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Absolute base for public badge URLs (assertions, badge classes, issuers). Empty: use the request host.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
# Fernet key (urlsafe base64, 32 bytes) for secrets at rest; by default derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "skillsforward",
    "lti",
    "canvas",
    "badging",
]

# The local Canvas stand-in: development and tests only (system check sandbox.W001 warns in production).
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "skillsforward.health.HealthProbeMiddleware",  # before Host validation: probes use the IP
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # Accept-Language; a launch's locale claim wins (lti/launch.py)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "skillsforward.middleware.LazyMessageMiddleware",  # Django's, made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "skillsforward.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "skillsforward.urls"
WSGI_APPLICATION = "skillsforward.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'skillsforward.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo runs web, worker and beat against one SQLite file: wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "skillsforward.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
else:
    # Shared by every process on this machine (web, worker): enough for the one-machine demo.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery: Redis in production; the demo uses kombu's filesystem transport and still runs a real worker.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis gives an unacknowledged task (its worker was killed) back only after this many seconds.
    # Recovery does not wait for it: issuance claims and email sends are leases in the database
    # that the reconciler re-queues (see README "Operations"). It must exceed the longest task plus
    # the longest retry countdown (10 min each), or a waiting task would be handed out twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=1800)}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery closes the database connection around every task unless this is set: a new PostgreSQL
# backend per task (an issuing batch) cost more database CPU than the batch's statements.
# Connections are kept as Django keeps them for requests (CONN_MAX_AGE, closed after an error;
# skillsforward.celery checks them before each task), and closed every 2 x this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Skills Forward Badges <badges@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages: a launch's language is the LTI locale claim Canvas sends (the user's Canvas language),
# else the browser's Accept-Language, else DEFAULT_LANGUAGE (see README "Languages").
# Arabic has no catalogue yet: it is listed so that a right-to-left launch gets dir="rtl" (and
# English text) rather than a left-to-right page; its texts fall back to English.
LANGUAGE_CODE = env.str("DEFAULT_LANGUAGE", default="en")
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["skillsforward.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# How many reverse proxies (e.g. the TLS-terminating one) stand in front of gunicorn. Only then are
# X-Forwarded-For (client address for rate limits: skillsforward.ratelimit) and X-Forwarded-Proto
# (request.is_secure(): LTI cookies need Secure) believed; with 0, anyone could write them.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=TRUSTED_PROXY_COUNT > 0):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Django's session and CSRF cookies serve the operators' admin only, which never opens inside Canvas:
# Lax keeps them from being sent with cross-site requests. The pages Canvas frames do not use them
# (launch link + form tokens; the LTI login cookie is SameSite=None; Secure on its own).
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# Failed admin sign-ins (skillsforward.admin_login): per address and user name, and per address.
ADMIN_LOGIN_FAILURES_PER_USER = env.int("ADMIN_LOGIN_FAILURES_PER_USER", default=5)
ADMIN_LOGIN_FAILURES_PER_ADDRESS = env.int("ADMIN_LOGIN_FAILURES_PER_ADDRESS", default=30)
ADMIN_LOGIN_LOCKOUT_MINUTES = env.int("ADMIN_LOGIN_LOCKOUT_MINUTES", default=15)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # probes speak plain HTTP inside the cluster
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# Preloading HSTS binds the whole university domain: an institution's decision, not the tool's.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Framing is governed by the CSP frame-ancestors of each response (registered Canvas hosts only).
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Outbound requests to URLs from outside (skillsforward.outbound): hosts that may be reached although
# they resolve to loopback, private or link-local addresses (and over plain http). An admin's choice,
# e.g. a self-hosted Canvas on the campus network; the local sandbox needs 127.0.0.1,localhost.
OUTBOUND_ALLOWED_HOSTS = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])
OUTBOUND_HTTP_TIMEOUT = env.float("OUTBOUND_HTTP_TIMEOUT", default=20.0)

# LTI
LTI_HTTP_TIMEOUT = env.float("LTI_HTTP_TIMEOUT", default=10.0)
LTI_KEY_ROTATION_GRACE_DAYS = env.int("LTI_KEY_ROTATION_GRACE_DAYS", default=14)
# The launch link (/l/<id>/) is a bearer capability: it ends after this long unused, and at the
# latest this long after the launch.
LTI_LAUNCH_IDLE_MINUTES = env.int("LTI_LAUNCH_IDLE_MINUTES", default=60)
LTI_LAUNCH_MAX_HOURS = env.int("LTI_LAUNCH_MAX_HOURS", default=8)
LTI_TOOL_TITLE = env.str("LTI_TOOL_TITLE", default="Badges")
# Dynamic registrations awaiting an admin's approval: at most this many, deleted after this many days.
LTI_PENDING_REGISTRATIONS_MAX = env.int("LTI_PENDING_REGISTRATIONS_MAX", default=20)
LTI_PENDING_REGISTRATION_DAYS = env.int("LTI_PENDING_REGISTRATION_DAYS", default=7)

# Canvas REST
CANVAS_HTTP_TIMEOUT = env.float("CANVAS_HTTP_TIMEOUT", default=30.0)
CANVAS_MAX_RETRIES = env.int("CANVAS_MAX_RETRIES", default=5)
CANVAS_VERIFY_TLS = env.bool("CANVAS_VERIFY_TLS", default=True)
# Requests in flight at once per Canvas API token, across every worker (Canvas throttles per token).
CANVAS_MAX_IN_FLIGHT_PER_TOKEN = env.int("CANVAS_MAX_IN_FLIGHT_PER_TOKEN", default=3)
# A slot held by a worker that died is free again after this long (longer than any one request).
CANVAS_SLOT_LEASE_SECONDS = env.float("CANVAS_SLOT_LEASE_SECONDS", default=120.0)

# Badging
BADGING_SYNC_INTERVAL_MINUTES = env.int("BADGING_SYNC_INTERVAL_MINUTES", default=30)
BADGING_STALE_AFTER_MINUTES = env.int("BADGING_STALE_AFTER_MINUTES", default=5)
# The roster (enrollments, final grade overrides, primary emails) is re-read at most this long after
# the last roster pass; between passes, enrollment Live Events re-read the learners they name.
BADGING_ROSTER_INTERVAL_MINUTES = env.int("BADGING_ROSTER_INTERVAL_MINUTES", default=60)
# A primary email read from Canvas less than this long ago is used as is by issuance; older ones are
# re-read first, 100 learners per request.
BADGING_EMAIL_FRESH_MINUTES = env.int("BADGING_EMAIL_FRESH_MINUTES", default=120)
BADGING_RECONCILE_INTERVAL_MINUTES = env.int("BADGING_RECONCILE_INTERVAL_MINUTES", default=1)
# A worker issuing a batch (or sending an email) holds a lease on those rows in the database, renewed
# while it works; once a lease runs out (the worker died) the reconciler queues the work again. A
# course sync's lock is a lease of the same length (in the cache).
BADGING_LEASE_SECONDS = env.int("BADGING_LEASE_SECONDS", default=30)
# A learner or delivery queued this long ago but never picked up (its broker message was lost) is
# queued again by the reconciler; a repeat finds the work done or leased and does nothing.
BADGING_QUEUED_STALE_AFTER_SECONDS = env.int("BADGING_QUEUED_STALE_AFTER_SECONDS", default=180)
# A failed issue or delivery is tried again after between half this and this, doubling with each
# attempt up to 6 hours (a refusing mail server, a Canvas Credentials outage).
BADGING_RETRY_BASE_SECONDS = env.int("BADGING_RETRY_BASE_SECONDS", default=60)
# How often instructors may send a learner's badge email again, per learner in 24 hours.
BADGING_RESENDS_PER_LEARNER_PER_DAY = env.int("BADGING_RESENDS_PER_LEARNER_PER_DAY", default=3)
# Who instructors should ask about setting up a badge (an email address or a web page) [unset].
BADGES_SUPPORT_CONTACT = env.str("BADGES_SUPPORT_CONTACT", default="")
# Canvas Live Events, HTTPS delivery with "Sign Payload": the key set Canvas documents for hosted
# Canvas (canvas-lms doc/api/data_services/md/static/data_service_setup.md; rotated monthly, it
# lists the previous, current and next key). Self-hosted Canvas with its own key: set yours.
LIVE_EVENTS_JWKS_URL = env.str(
    "LIVE_EVENTS_JWKS_URL", default="https://8axpcl50e4.execute-api.us-east-1.amazonaws.com/main/jwks"
)
# Events older than this (event_time, or the JWT's iat/exp) are acknowledged and not acted on; each
# event id is remembered at least this long, so a replayed delivery is acknowledged and ignored too.
LIVE_EVENTS_MAX_AGE_SECONDS = env.int("LIVE_EVENTS_MAX_AGE_SECONDS", default=3600)
LIVE_EVENTS_ALLOW_UNSIGNED = env.bool("LIVE_EVENTS_ALLOW_UNSIGNED", default=False)
LIVE_EVENTS_SHARED_SECRET = env.str("LIVE_EVENTS_SHARED_SECRET", default="")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text")  # "json" for one JSON object per line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
