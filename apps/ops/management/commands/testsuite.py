"""`python manage.py testsuite [pytest args]`: the whole test suite against PostgreSQL and Redis.

Defaults point at loopback (postgres://postgres@127.0.0.1:5432/playbook, redis://127.0.0.1:6379/15);
DATABASE_URL and CELERY_BROKER_URL override them. Integration tests start real Celery worker processes.
"""
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

CHROMIUM = "/usr/bin/chromium"


class Command(BaseCommand):
    help = "Run the whole test suite against PostgreSQL and Redis (pass pytest arguments after --)."

    def add_arguments(self, parser):
        parser.add_argument("pytest_args", nargs="*")

    def handle(self, *args, pytest_args, **options):
        env = os.environ.copy()
        env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/playbook")
        env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
        env.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
        env.setdefault("PLAYBOOK_CHROMIUM", CHROMIUM)
        # Packages built in tests time their variants with a few calls, not the default 200.
        env.setdefault("PLAYBOOK_PACKAGE_TIMING_CALLS", "10")
        data_dir = Path(env.setdefault("PLAYBOOK_DATA_DIR", str(settings.BASE_DIR / "var" / "test-data")))
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        self._check_services(env)
        self._ensure_chromium(env["PLAYBOOK_CHROMIUM"])
        self.stdout.write(f"testsuite: database {env['DATABASE_URL']}, broker {env['CELERY_BROKER_URL']}", ending="\n")
        self.stdout.flush()
        result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=settings.BASE_DIR, env=env)
        if result.returncode:
            raise CommandError(f"pytest exited with {result.returncode}", returncode=result.returncode)

    def _check_services(self, env):
        import dj_database_url
        import psycopg
        import redis

        db = dj_database_url.parse(env["DATABASE_URL"])
        try:
            psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
                            dbname="postgres", connect_timeout=5).close()
        except psycopg.Error as exc:
            raise CommandError(f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT']}: {exc}") from exc
        try:
            redis.Redis.from_url(env["CELERY_BROKER_URL"], socket_connect_timeout=5).ping()
        except redis.RedisError as exc:
            raise CommandError(f"Redis is not reachable at {env['CELERY_BROKER_URL']}: {exc}") from exc

    def _ensure_chromium(self, path: str):
        if os.path.exists(path):
            return
        if shutil.which("apt-get") and os.geteuid() == 0:
            self.stdout.write("testsuite: installing Debian's chromium for the browser tests")
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if not os.path.exists(path):
            raise CommandError(f"Chromium is needed for the browser tests at {path} (apt-get install chromium)")
