"""The load benchmark, in one command: a fresh PostgreSQL database, migrated and seeded with a populated
project (bench/load/populate.py), gunicorn serving it, locust driving signed-in users for a fixed time, and
p50/p95/p99 per page and overall with their ratio to the targets (p95 < 150 ms, p99 < 300 ms).

    .venv/bin/python bench/load/run.py --duration 120            # gunicorn with config/gunicorn.conf.py
    .venv/bin/python bench/load/run.py --duration 120 --server sync   # the former two sync workers
    .venv/bin/python bench/load/run.py --duration 120 --reuse         # same database and files as last time

Needs PostgreSQL (--pg, trust auth) and Redis (--redis; seeding queues a few messages there, purged after).
Results go to --out (default /tmp/playbook-load/<time>): locust's CSV files, gunicorn's log and summary.json.
"""
import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TARGET_P95_MS, TARGET_P99_MS = 150, 300
# Requests that are the sign-in traffic itself (a password hash by design), reported but not judged.
SIGN_IN = ("sign-in (POST)", "sign-out (POST)", "sign-in page")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=120, help="seconds of load (default 120)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    parser.add_argument("--signin-share", type=float, default=0.1,
                        help="share of the users who sign in and out over and over (default 0.1)")
    parser.add_argument("--server", choices=["config", "sync"], default="config",
                        help="config: gunicorn -c config/gunicorn.conf.py; sync: two sync workers (before)")
    parser.add_argument("--scale", type=int, default=10, help="the project's scale (bench/load/populate.py)")
    parser.add_argument("--db", default="pb_load", help="database name (dropped and created unless --reuse)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6", help="Celery broker for the seeding")
    parser.add_argument("--data-dir", default="/tmp/playbook-load-data")
    parser.add_argument("--port", type=int, default=8196)
    parser.add_argument("--reuse", action="store_true", help="keep the database and files of the last seeding")
    parser.add_argument("--out", default="")
    return parser.parse_args(argv)


def environment(args) -> dict:
    return {**os.environ, "DATABASE_URL": f"{args.pg}/{args.db}", "SECRET_KEY": "load-benchmark", "DEBUG": "0",
            "SECURE_COOKIES": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "PLAYBOOK_DATA_DIR": args.data_dir,
            "CELERY_BROKER_URL": args.redis, "PLAYBOOK_NO_BOOTSTRAP": "1", "PYTHONUNBUFFERED": "1",
            # Seeding: Play 1 without the zero-shot baseline (it would load a real encoder; the pages are the same).
            "PLAYBOOK_ZERO_SHOT_ENCODER": "none"}


def manage(env, *argv, **kwargs):
    return subprocess.run([PYTHON, "manage.py", *argv], cwd=ROOT, env=env, check=True, **kwargs)


def fresh_database(args, env, targets: Path) -> dict:
    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    subprocess.run(["rm", "-rf", args.data_dir], check=True)
    Path(args.data_dir).mkdir(parents=True)
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput", stdout=subprocess.DEVNULL)
    code = ("from bench.load.populate import seed_for_bench; "
            f"seed_for_bench(scale={args.scale}, targets_path={str(targets)!r}, password='playbook-bench'); "
            "from config.celery import app; app.control.purge()")
    manage(env, "shell", "-c", code)
    print(f"seeded in {time.monotonic() - t0:.0f} s", flush=True)
    return json.loads(targets.read_text())


def wait_until_up(url: str, proc, seconds=90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited before it answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not answer in time")


def start_gunicorn(args, env, log_path: Path):
    bind = f"127.0.0.1:{args.port}"
    if args.server == "config":
        argv = ["config.wsgi:application", "-c", "config/gunicorn.conf.py", "--bind", bind]
    else:
        argv = ["config.wsgi:application", "--workers", "2", "--bind", bind]
    log = open(log_path, "wb")
    proc = subprocess.Popen([PYTHON, "-m", "gunicorn", *argv], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, argv


def read_stats(path: Path) -> list[dict]:
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if not row.get("Request Count") or int(row["Request Count"]) == 0:
                continue
            rows.append({"name": "overall (pages and API)" if row["Name"] == "Aggregated" else row["Name"],
                         "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                         "p50": float(row["50%"]), "p95": float(row["95%"]), "p99": float(row["99%"]),
                         "max": float(row["Max Response Time"])})
    return rows


def judge(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["judged"] = row["name"] not in SIGN_IN and not row["name"].startswith("overall")
        row["p95_ratio"] = row["p95"] / TARGET_P95_MS
        row["p99_ratio"] = row["p99"] / TARGET_P99_MS
    return rows


def print_table(rows: list[dict]) -> str:
    lines = ["| Request | n | fail | p50 ms | p95 ms | p99 ms | max ms | p95/150 | p99/300 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in sorted(rows, key=lambda r: (r["name"].startswith("overall"), r["name"] in SIGN_IN, r["name"])):
        mark = "" if row["judged"] or row["name"].startswith("overall") else " (sign-in traffic, not judged)"
        lines.append(f"| {row['name']}{mark} | {row['requests']} | {row['failures']} | {row['p50']:.0f} | "
                     f"{row['p95']:.0f} | {row['p99']:.0f} | {row['max']:.0f} | {row['p95_ratio']:.2f} | "
                     f"{row['p99_ratio']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out or f"/tmp/playbook-load/{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{args.server}")
    out.mkdir(parents=True, exist_ok=True)
    env = environment(args)
    targets_path = Path(args.data_dir) / "bench-targets.json"
    if args.reuse and targets_path.exists():
        targets = json.loads(targets_path.read_text())
    else:
        targets = fresh_database(args, env, targets_path)
    print("project:", targets["counts"], flush=True)
    proc, gunicorn_argv = start_gunicorn(args, env, out / "gunicorn.log")
    host = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_up(host + "/accounts/login/", proc)
        locust = [PYTHON, "-m", "locust", "-f", str(ROOT / "bench/load/locustfile.py"), "--headless",
                  "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--host", host,
                  "--csv", str(out / "locust"), "--only-summary", "--stop-timeout", "10"]
        subprocess.run(locust, cwd=ROOT, env={**env, "BENCH_TARGETS": str(targets_path),
                                              "BENCH_SIGNIN_SHARE": str(args.signin_share)},
                       stdout=open(out / "locust.log", "wb"), stderr=subprocess.STDOUT)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    rows = judge(read_stats(out / "locust_stats.csv"))
    judged = [r for r in rows if r["judged"]]
    passed = bool(judged) and all(r["p95"] < TARGET_P95_MS and r["p99"] < TARGET_P99_MS and r["failures"] == 0
                                  for r in judged)
    table = print_table(rows)
    command = " ".join(["bench/load/run.py", *(argv if argv is not None else sys.argv[1:])])
    summary = {"command": command, "gunicorn": "gunicorn " + " ".join(gunicorn_argv), "users": args.users,
               "signin_share": args.signin_share, "duration_s": args.duration, "cores": os.cpu_count(),
               "project": targets["counts"], "rows": rows, "passed": passed}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "table.md").write_text(table + "\n")
    print(table)
    print(f"\n{'PASS' if passed else 'FAIL'}: every page p95 < {TARGET_P95_MS} ms and p99 < {TARGET_P99_MS} ms "
          f"(results in {out})")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
