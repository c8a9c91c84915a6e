#!/usr/bin/env python3
"""Playbook's command-line entry point.

Run with any Python 3.11: when it is not already running inside the project's `.venv`, it creates that
virtual environment, installs torch (CPU wheel) first and then the project, and re-runs itself there. So
`python3 manage.py demo` and `python3 manage.py testsuite` work on a fresh clone with nothing else installed.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".playbook-install"
# Torch goes in on its own, before anything that depends on it, so pip takes the local CPU build
# rather than resolving a CUDA one.
TORCH_REQUIREMENT = os.environ.get("PLAYBOOK_TORCH_REQUIREMENT", "torch==2.13.0")


def _install_fingerprint() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(TORCH_REQUIREMENT.encode())
    return digest.hexdigest()


def _bootstrap() -> None:
    """Make sure .venv exists and holds the current dependencies, then re-exec inside it."""
    if os.environ.get("PLAYBOOK_NO_BOOTSTRAP") == "1":
        return
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not VENV_PYTHON.exists():
        print(f"playbook: creating {VENV}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    fingerprint = _install_fingerprint()
    if not STAMP.exists() or STAMP.read_text() != fingerprint:
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        print(f"playbook: installing {TORCH_REQUIREMENT} (first, CPU build)", flush=True)
        subprocess.check_call(pip + [TORCH_REQUIREMENT])
        print("playbook: installing the project and its test tools", flush=True)
        subprocess.check_call(pip + [".[test]"], cwd=ROOT)
        STAMP.write_text(fingerprint)
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> None:
    _bootstrap()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
