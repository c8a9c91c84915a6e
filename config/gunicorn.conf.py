"""Gunicorn for the web process: `gunicorn config.wsgi:application -c config/gunicorn.conf.py`.

Threaded workers (gthread): one process per CPU core, each with a few threads, so a page waiting on
PostgreSQL or a sign-in hashing its password (Argon2id, about 27 ms, run without holding the GIL) does not
hold up the requests behind it. Each thread keeps its database connection, and each worker imports every
page's code and compiles the templates before it takes a request (post_worker_init below). Measured on the
2-core reference machine with 50 users signing in and out: bench/RESULTS.md, "Pages under load".

Each setting can be changed from the environment: GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT, GUNICORN_ACCESSLOG ("-" for standard output).
"""
import multiprocessing
import os

# Each thread keeps its database connection between requests (checked before reuse; see settings), instead
# of opening one per request: on the load benchmark that cut the median page by a third and the p99 of the
# pages by half (bench/RESULTS.md). Read by the settings when each worker loads the app, after this file.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
# Python work (templates, serialisers) needs a core per process; threads cover the waits (database, hashing).
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
# Longer than a reader's pause between clicks (2-5 s in the benchmark), so an idle connection is not closed
# just as the next request arrives on it (a "connection reset" at the client).
keepalive = 30
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# Uploads and downloads of datasets and packages go through Django's own size checks.
limit_request_line = 8190


def post_worker_init(worker):
    """Import every page's code and compile the templates before the worker takes a request
    (apps/core/warmup.py), so the first visitor of each page does not wait seconds for it."""
    from apps.core.warmup import warm_up

    warm_up()
