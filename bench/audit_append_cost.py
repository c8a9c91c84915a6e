"""What one audit append costs: N appends, each in its own transaction as a service makes it.

    DATABASE_URL=postgres://... python bench/audit_append_cost.py [N]

Then again with synchronous_commit off (PostgreSQL): the statements without the commit's flush to disk,
which dominates and varies on a busy machine.

Run it on a throwaway, migrated database, once on this code and once on code before the chain head, to
see what the head (one more read, an HMAC check and sign, one UPDATE) adds per append.
"""
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, os.getcwd())
django.setup()

from django.db import connection, transaction  # noqa: E402

from apps.audit.services import audit_record  # noqa: E402


# The fastest round is the least disturbed by other work on the machine; compare those.
ROUNDS = 15


def main(n: int) -> None:
    for _ in range(50):  # warm up: connection, caches, first pages of the indexes
        with transaction.atomic():
            audit_record(actor="bench", action="bench.warmup")
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                audit_record(actor="bench", action="bench.append", after={"i": i})
        rounds.append((time.perf_counter() - start) / n * 1e6)
    print(f"{n} appends x {ROUNDS} rounds, a transaction each: median {statistics.median(rounds):.0f} us, "
          f"fastest round {min(rounds):.0f} us per append")
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    quick, cpu = [], []
    for _ in range(ROUNDS):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            with transaction.atomic():
                audit_record(actor="bench", action="bench.append", after={"i": i})
        quick.append((time.perf_counter() - start) / n * 1e6)
        cpu.append((time.process_time() - start_cpu) / n * 1e6)
    print(f"{n} appends x {ROUNDS} rounds, a transaction each, synchronous_commit off: median "
          f"{statistics.median(quick):.0f} us, fastest round {min(quick):.0f} us per append; this process's CPU "
          f"{statistics.median(cpu):.0f} us per append")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
