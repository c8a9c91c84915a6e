"""Playbook settings: one module, every deployment difference comes from the environment.

With no environment at all the project runs on embedded parts under PLAYBOOK_DATA_DIR (default `var/`):
a SQLite database and a filesystem Celery broker, so a newcomer needs nothing installed. A team deployment
sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY and ALLOWED_HOSTS.
"""
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PLAYBOOK_DATA_DIR", str(BASE_DIR / "var"))).resolve()
ARTIFACTS_DIR = DATA_DIR / "artifacts"

# Embedded mode (no DATABASE_URL) is a developer's machine: DEBUG defaults on there and off everywhere else.
EMBEDDED = not env_str("DATABASE_URL")
DEBUG = env_bool("DEBUG", default=EMBEDDED)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off")
    # Development only: a per-machine key kept in the data folder, never one written into the code.
    _key_file = DATA_DIR / "dev-secret-key"
    if not _key_file.exists():
        import secrets

        _key_file.parent.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.jobs",
    "apps.playbook",
    "apps.datasets",
    "apps.training",
    "apps.evaluation",
    "apps.monitoring",
    "apps.notifications",
    "apps.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused for a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "apps.notifications.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'playbook.sqlite3'}"),
        # 0: a connection per request (the worker and manage.py); gunicorn keeps them (config/gunicorn.conf.py).
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        # A kept connection is checked before a request reuses it, so a database restart costs one reconnect.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the worker's writes instead of failing with "database is locked".
    # IMMEDIATE transactions take the write lock up front, so the web process and the worker queue up
    # instead of failing with "database is locked" (and the audit chain's read-then-append is serialised).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id (apps/accounts/hashers.py says why); PBKDF2 stays listed so older hashes verify and get upgraded.
PASSWORD_HASHERS = [
    "apps.accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# django-axes first: it refuses a locked-out username+address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "playbook:my-work"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves static files in every mode; from the app folders directly until collectstatic has run.
WHITENOISE_USE_FINDERS = True

# --- Security -----------------------------------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
# PLAYBOOK_TLS=1: the site is served over HTTPS (directly or behind a proxy that sets X-Forwarded-Proto):
# plain HTTP is redirected, browsers are told to use HTTPS only (HSTS) and cookies never travel in clear.
PLAYBOOK_TLS = env_bool("PLAYBOOK_TLS", default=False)
if PLAYBOOK_TLS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is the site owner's decision (SECURE_HSTS_PRELOAD=1), not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if env_bool("PLAYBOOK_BEHIND_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "apps.core.error_pages.csrf_failure"
# The Content-Security-Policy (apps.core.security): scripts and styles only from this site, no inline
# script, no eval, no framing. Swagger UI (/api/docs/) is served from our own static files as well; its page
# alone also allows inline <style> (config/api_urls.py).
PLAYBOOK_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Sign-in throttling (django-axes): this many failed sign-ins for one username from one address within
# PLAYBOOK_LOCKOUT_MINUTES lock that pair out for PLAYBOOK_LOCKOUT_MINUTES; an admin can lift it earlier.
PLAYBOOK_SIGNIN_FAILURE_LIMIT = env_int("PLAYBOOK_SIGNIN_FAILURE_LIMIT", 5)
PLAYBOOK_LOCKOUT_MINUTES = env_int("PLAYBOOK_LOCKOUT_MINUTES", 15)
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = PLAYBOOK_SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=PLAYBOOK_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A try during the lockout does not extend it: it ends PLAYBOOK_LOCKOUT_MINUTES after the last counted failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.lockout_response"
# Lockouts are shown and lifted through our own admin (apps.accounts.admin), which audits the lift.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# API tokens last this many days at most (a person may choose fewer).
PLAYBOOK_API_TOKEN_DAYS = env_int("PLAYBOOK_API_TOKEN_DAYS", 90)

# --- Playbook -----------------------------------------------------------------------------------------
PLAYBOOK_UPLOAD_MAX_BYTES = env_int("PLAYBOOK_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
PLAYBOOK_UPLOAD_MAX_ROWS = env_int("PLAYBOOK_UPLOAD_MAX_ROWS", 200_000)
# Classes with fewer examples than this are flagged (a warning, not an error) at upload.
PLAYBOOK_MIN_CLASS_ROWS = env_int("PLAYBOOK_MIN_CLASS_ROWS", 5)
# Below these, Play 3's gate warns that auditor and labels disagree (the sign-off owner weighs it).
PLAYBOOK_AUDIT_MIN_AGREEMENT = float(env_str("PLAYBOOK_AUDIT_MIN_AGREEMENT", "0.8"))
PLAYBOOK_AUDIT_MIN_KAPPA = float(env_str("PLAYBOOK_AUDIT_MIN_KAPPA", "0.6"))
# A label audit whose sample a worker has not prepared within this many seconds (the worker died, or none
# is running) no longer blocks a new audit of the same dataset; it is marked failed when one is started.
PLAYBOOK_AUDIT_PREPARE_TIMEOUT_SECONDS = env_int("PLAYBOOK_AUDIT_PREPARE_TIMEOUT_SECONDS", 30 * 60)
# The frozen encoder of Play 1's zero-shot baseline: a local model directory, "none" to leave it out, or
# empty for the pretrained MiniLM package when it is installed.
PLAYBOOK_ZERO_SHOT_ENCODER = env_str("PLAYBOOK_ZERO_SHOT_ENCODER", "")
# Play 3's leakage check fails when more than this share of val+test rows duplicate (or nearly) a row of
# another split, unless the data owner writes a justification.
PLAYBOOK_LEAKAGE_MAX_RATE = float(env_str("PLAYBOOK_LEAKAGE_MAX_RATE", "0.01"))
# A running job whose worker has not beaten for this long is marked failed by the stale-heartbeat check.
PLAYBOOK_HEARTBEAT_STALE_SECONDS = env_int("PLAYBOOK_HEARTBEAT_STALE_SECONDS", 120)
# The queue sweep (beat, every PLAYBOOK_QUEUE_SWEEP_SECONDS): a job still queued this long after its last
# send is sent again (the wait doubles with each resend); after this many resends, or once it has waited
# this long in all, it is failed, audited, so no job stays queued forever.
PLAYBOOK_QUEUE_SWEEP_SECONDS = env_int("PLAYBOOK_QUEUE_SWEEP_SECONDS", 30)
PLAYBOOK_QUEUED_RESEND_SECONDS = env_int("PLAYBOOK_QUEUED_RESEND_SECONDS", 120)
PLAYBOOK_QUEUED_MAX_RESENDS = env_int("PLAYBOOK_QUEUED_MAX_RESENDS", 4)
PLAYBOOK_QUEUED_MAX_AGE_SECONDS = env_int("PLAYBOOK_QUEUED_MAX_AGE_SECONDS", 24 * 3600)
# A worker that loses the database (a restart) retries its writes on a new connection for this long.
PLAYBOOK_DB_RETRY_SECONDS = env_int("PLAYBOOK_DB_RETRY_SECONDS", 120)
# Play 6's monitor: a window closes after this many production predictions, or after this long with fewer
# (never under the alert policy's minimum window); the system opens at most this many retrain cycles in so
# many days, whatever the monitor says.
PLAYBOOK_WINDOW_SIZE = env_int("PLAYBOOK_WINDOW_SIZE", 500)
PLAYBOOK_WINDOW_MAX_AGE_SECONDS = env_int("PLAYBOOK_WINDOW_MAX_AGE_SECONDS", 24 * 3600)
# Single calls timed per runtime in a package's parity report (0 leaves timing out).
PLAYBOOK_PACKAGE_TIMING_CALLS = env_int("PLAYBOOK_PACKAGE_TIMING_CALLS", 200)
PLAYBOOK_RETRAIN_BUDGET = env_int("PLAYBOOK_RETRAIN_BUDGET", 2)
PLAYBOOK_RETRAIN_BUDGET_DAYS = env_int("PLAYBOOK_RETRAIN_BUDGET_DAYS", 30)
# The portfolio flags a play as stuck when it has been open (ready, in progress, sent back or waiting for
# sign-off) longer than this many days.
PLAYBOOK_STUCK_AFTER_DAYS = env_int("PLAYBOOK_STUCK_AFTER_DAYS", 7)
# Signs the audit chain's head and backup manifests (HMAC); empty derives a key from SECRET_KEY. Keep the
# same key across a restore, or the restored chain's head cannot be verified.
PLAYBOOK_AUDIT_KEY = env_secret("PLAYBOOK_AUDIT_KEY") or ""
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Email (notifications) ----------------------------------------------------------------------------
# Embedded mode writes each email as a file under the data folder (nothing leaves the machine); elsewhere the
# console backend logs them until EMAIL_BACKEND names a real one (e.g. django.core.mail.backends.smtp.EmailBackend
# with EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend" if EMBEDDED
                        else "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
# A slow mail server must not hold a request for long: sending happens after commit, in the same process.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Playbook <playbook@localhost>")
# Where the links in emails point (this site's address as people reach it).
PLAYBOOK_BASE_URL = env_str("PLAYBOOK_BASE_URL", "http://127.0.0.1:8000")

# --- REST API -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "apps.api.schema.PlaybookAutoSchema",
    "EXCEPTION_HANDLER": "apps.api.exception_handlers.handle_exception",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Playbook API",
    "DESCRIPTION": "Every page action of Playbook, through the same services.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so the schema states what a request needs (required
    # keys, non-blank strings, files as binary) and not only what a response carries.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: no CDN, so the docs work on a closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Celery -------------------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("out", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's filesystem transport: producers write into data_folder_out, consumers read data_folder_in.
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables (and the worker hostnames in them) are runtime state: under the data folder,
        # never the working directory, where kombu would put them by default.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Job state lives in the database (apps.jobs.Job); Celery's own result store is not used.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "workers.tasks.run_training_job": {"queue": "gpu"},
    "workers.tasks.run_light_job": {"queue": "default"},
    "workers.tasks.check_stale_jobs": {"queue": "default"},
    "workers.tasks.resend_queued_jobs": {"queue": "default"},
    "workers.tasks.monitoring_tick": {"queue": "default"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 6 * 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 3600 + 300)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "check-stale-jobs": {"task": "workers.tasks.check_stale_jobs", "schedule": 60.0},
    "resend-queued-jobs": {"task": "workers.tasks.resend_queued_jobs",
                           "schedule": float(PLAYBOOK_QUEUE_SWEEP_SECONDS)},
    "monitoring-tick": {"task": "workers.tasks.monitoring_tick",
                        "schedule": float(env_int("PLAYBOOK_MONITOR_INTERVAL_SECONDS", 60))},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- The plays -----------------------------------------------------------------------------------------
# Play number -> the module that implements it (apps.core.registry); the core imports none of them.
PLAYBOOK_PLAYS = {
    1: "apps.training.play1",
    2: "apps.training.play2",
    3: "apps.datasets.play3",
    4: "apps.training.play4",
    5: "apps.evaluation.play5",
    6: "apps.monitoring.play6",
}
