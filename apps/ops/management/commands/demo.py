"""`python manage.py demo`: migrate, seed, then run the web server and a Celery worker until Ctrl-C.

On first start (and on every start until it is complete) a background thread also builds the demo's second
project through all six plays and into monitoring with real jobs (apps/ops/demo_cycle.py); `--no-cycle`
skips it. The thread reads the project's state and does the next step, so a restart continues the build."""
import os
import threading
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.ops.management.commands.seed_demo import DEMO_USERS, demo_password


class Command(BaseCommand):
    help = "Run Playbook on embedded parts (SQLite, filesystem broker): web server and worker, seeded demo."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-cycle", action="store_true",
                            help="do not build the second project through all six plays in the background")

    def handle(self, *args, host, port, no_cycle=False, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        env = os.environ.copy()
        manage = str(settings.BASE_DIR / "manage.py")
        beat_schedule = str(settings.DATA_DIR / "celerybeat-schedule")
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu", "-P", "solo",
                 "-B", "-s", beat_schedule, "--loglevel", "INFO", "-n", "demo@%h"],
                cwd=settings.BASE_DIR, env=env, process_group=0,
            ),
            subprocess.Popen([sys.executable, manage, "runserver", f"{host}:{port}", "--noreload"],
                             cwd=settings.BASE_DIR, env=env),
        ]
        time.sleep(2)
        self.stdout.write(self.style.SUCCESS(f"\nPlaybook is running at http://{host}:{port}/"))
        self.stdout.write(f"Sign in as any of these (password: {demo_password()}):")
        for username, _, what in DEMO_USERS:
            self.stdout.write(f"  {username:<15} {what}")
        self.stdout.write(f"Data folder: {settings.DATA_DIR}   Press Ctrl-C to stop the server and the worker.\n")
        if not no_cycle:
            self._start_cycle()
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        # A second Ctrl-C must not abandon the children half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.stdout.write("\nStopping…")
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # The worker's own children (beat, with -B) go with it.
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    child.kill()
                child.wait()
        self.stdout.write("Stopped.")

    def _start_cycle(self) -> None:
        """The second project fills in while the server runs; its progress shows on its pages."""
        from apps.ops import demo_cycle

        if demo_cycle.complete():
            self.stdout.write(f"The demo project {demo_cycle.PROJECT!r} is complete.")
            return
        self.stdout.write(f"Building {demo_cycle.PROJECT!r} through all six plays in the background "
                          "(watch it on its project page; --no-cycle skips this).")

        def log(line: str) -> None:
            self.stdout.write(f"[demo cycle] {line}")

        threading.Thread(target=demo_cycle.drive_in_background, kwargs={"log": log}, name="demo-cycle",
                         daemon=True).start()
