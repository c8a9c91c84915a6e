"""Docker cannot run here, so the compose file is kept honest another way: every command it names must
exist in this project, and the services must be the ones the deployment needs."""
import importlib
import shlex
from pathlib import Path

import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ["web", "worker-default", "worker-gpu", "beat"]


def commands_of(service: str) -> list[list[str]]:
    command = SERVICES[service]["command"]
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split("&&")]
    return [command]


def check_command(argv: list[str]) -> None:
    program = argv[0]
    if program == "python":
        assert argv[1] == "manage.py" and (ROOT / "manage.py").exists()
        assert argv[2] in get_commands(), f"manage.py has no command {argv[2]!r}"
    elif program == "gunicorn":
        module, attr = argv[1].split(":")
        assert callable(getattr(importlib.import_module(module), attr))
    elif program == "celery":
        assert argv[1:3] == ["-A", "config"]
        app = importlib.import_module("config").celery_app
        assert argv[3] in ("worker", "beat")
        if "-Q" in argv:
            queues = set(argv[argv.index("-Q") + 1].split(","))
            routed = {route["queue"] for route in app.conf.task_routes.values()}
            assert queues <= routed | {app.conf.task_default_queue}
    else:
        raise AssertionError(f"unknown program {program!r} in docker-compose.yml")


def test_the_deployment_has_every_process():
    assert set(SERVICES) == {"db", "redis", "web", "worker-default", "worker-gpu", "beat"}


def test_every_command_named_exists_in_the_project():
    for service in APP_SERVICES:
        for argv in commands_of(service):
            check_command(argv)
        dockerfile = ROOT / SERVICES[service]["build"]["dockerfile"]
        assert dockerfile.exists()


def test_the_gpu_worker_reserves_a_gpu_and_takes_one_training_job_at_a_time():
    gpu = SERVICES["worker-gpu"]
    argv = gpu["command"]
    assert argv[argv.index("-Q") + 1] == "gpu" and argv[argv.index("--concurrency") + 1] == "1"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    light = SERVICES["worker-default"]["command"]
    assert light[light.index("-Q") + 1] == "default"


def test_the_image_copies_files_that_exist():
    for line in (ROOT / "config" / "docker" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and not line.startswith("COPY . "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
