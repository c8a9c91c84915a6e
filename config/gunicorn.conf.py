"""Gunicorn for the web process: `gunicorn config.wsgi:application -c config/gunicorn.conf.py`.

Threaded workers (gthread): one process per CPU core, each with a few threads. A sign-in spends about 0.4 s
in PBKDF2 (the password hasher keeps its full strength); hashlib runs it without holding the GIL, and pages
spend much of their time waiting on PostgreSQL, so the other threads keep answering meanwhile. With the
former two sync workers, two sign-ins at once stalled every other request behind them. On the shared
machine this lowered the medians but not yet the tails (bench/RESULTS.md, "Pages under load"; the quiet-
machine run decides the thread count).

Each setting can be changed from the environment: GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT, GUNICORN_ACCESSLOG ("-" for standard output).
"""
import multiprocessing
import os

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
