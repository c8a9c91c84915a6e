"""`python manage.py simulate_traffic --deployment N`: replay production traffic through a live deployment
so the monitor has something to watch.

It sends the demo's tickets through the deployment's predict path in batches (first a stream like the data
the model was approved on, then, with --drift, a drifted one: chat-style messages with new words and a
shifted label mix),
sends delayed feedback for a share of them (the labels the demo generator knows), and then lets beat's tick
close the windows that are due. With a worker running (`manage.py demo`) the drift checks run there; with
--run-checks they run in this process, one after another (one a running worker claims first is waited
for), and the command prints each window's verdict.
"""
from django.core.management.base import BaseCommand, CommandError

from apps.monitoring.models import Deployment


def _drifted(rows: list[dict], seed: int) -> list[dict]:
    """The same tickets as short chat messages with fresh words, and the label mix tilted."""
    import random

    rng = random.Random(seed)
    tilted = sorted(rows, key=lambda r: (r["label"] != rows[0]["label"], rng.random()))
    openers = ["hey!! quick one:", "yo support -", "hi team, on mobile:", "urgent pls ->", "lol again:"]
    return [{**r, "text": f"{rng.choice(openers)} {' '.join(r['text'].split()[:8])} via the new app v9"}
            for r in tilted]


class Command(BaseCommand):
    help = "Replay demo production traffic (and optionally a drifted stream) through a deployment."

    def add_arguments(self, parser):
        parser.add_argument("--deployment", type=int, required=True)
        parser.add_argument("--rows", type=int, default=1000, help="predictions per stream")
        parser.add_argument("--feedback", type=float, default=0.3, help="share of rows that get a true label")
        parser.add_argument("--drift", action="store_true", help="follow with a drifted stream")
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--run-checks", action="store_true", help="run the drift checks in this process")

    def handle(self, *args, deployment, rows, feedback, drift, seed, run_checks, **options):
        from apps.monitoring import traffic
        from apps.monitoring.serving import answers_for
        from demo.generate import generate

        try:
            target = Deployment.objects.select_related("package").get(pk=deployment)
        except Deployment.DoesNotExist:
            raise CommandError(f"No deployment #{deployment}.") from None
        if target.package.shipped != "candidate":
            raise CommandError("This deployment serves a baseline: send its predictions with the ingest API.")
        if not 0 <= feedback <= 1:
            raise CommandError("--feedback is a share between 0 and 1")
        labels = list(target.package.label_names)
        predict = answers_for(target.package)
        # Tickets from the same generator as the demo's labelled data (another seed): what the model was
        # approved on. The drifted stream rewrites others as chat messages with words the model never saw.
        sample, _ = generate(seed=seed, rows=2 * rows, production_rows=10)
        streams = [("like the approved data", sample[:rows])]
        if drift:
            streams.append(("drifted", _drifted(sample[rows:2 * rows], seed)))
        for name, stream in streams:
            truth = {}
            for start in range(0, len(stream), traffic.MAX_PREDICT_BATCH):
                batch = stream[start:start + traffic.MAX_PREDICT_BATCH]
                served = traffic.predictions_serve(deployment=target, texts=[r["text"] for r in batch], predictor=predict)
                truth.update({p["id"]: r.get("label") for p, r in zip(served, batch)})
            known = [(i, label) for i, label in truth.items() if label in labels]
            chosen = known[:int(len(known) * feedback)]
            for start in range(0, len(chosen), traffic.MAX_INGEST_BATCH):
                traffic.feedback_ingest(deployment=target, rows=[{"id": i, "label": label}
                                                                 for i, label in chosen[start:start + traffic.MAX_INGEST_BATCH]])
            self.stdout.write(f"{name}: {len(stream)} predictions served, {len(chosen)} with feedback")
            self._tick(target, run_checks)

    def _tick(self, deployment, run_checks: bool) -> None:
        from apps.jobs.runner import job_execute
        from apps.monitoring.models import MonitoringWindow
        from apps.monitoring.monitor import monitoring_tick

        while True:
            started = monitoring_tick()
            if not started:
                return
            if not run_checks:
                self.stdout.write(f"drift checks queued: {', '.join(f'#{j}' for j in started)} (a worker runs them)")
                return
            for job_id in started:
                if job_execute(job_id) == "skipped":
                    self._wait_for(job_id)  # a running worker claimed it first: its verdict is the one
                window = MonitoringWindow.objects.filter(job_id=job_id).first()
                if window is None:
                    self.stdout.write(f"job #{job_id} did not finish: see the job's page")
                    return
                decision = window.result.get("decision") or {}
                self.stdout.write(
                    f"window {window.index}: {window.rows} rows, breached: {', '.join(window.result.get('breached', [])) or 'nothing'}"
                    f"{'; RETRAIN triggered' if decision.get('retrain') else ''}")

    def _wait_for(self, job_id: int, timeout: float = 600.0) -> None:
        import time

        from apps.jobs.models import Job

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if Job.objects.get(pk=job_id).is_finished:
                return
            time.sleep(0.5)
