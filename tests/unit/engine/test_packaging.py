"""Play 6 packages: ONNX parity with the torch model, calibrated outputs, a manifest that catches any change,
deterministic archives, no pickles, skops baselines, and loading snippets that work in a fresh interpreter."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save_file

from tests.unit.engine.conftest import LABEL_NAMES, make_texts
from workers.engine import packaging
from workers.engine.baselines import MajorityClassifier, TfidfLogRegClassifier
from workers.engine.checkpoints import load_checkpoint, save_checkpoint
from workers.engine.encoders import load_encoder
from workers.engine.evaluation import calibrated
from workers.engine.heads import ClassifierHead
from workers.engine.packaging import (
    CARD_FIELDS,
    MANIFEST,
    SKOPS_TRUSTED_TYPES,
    OnnxPredictor,
    PackageInvalid,
    SkopsPredictor,
    build_baseline_package,
    build_package,
    card_snippets,
    load_baseline,
    load_reference,
    package_archive,
    verify_package,
)
from workers.engine.unfreeze import predict_logits

REPO = Path(__file__).resolve().parents[3]
TEMPERATURE = 2.0
MAX_LENGTH = 24
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".ckpt")
FULL_CARD = {
    "model_name": "Support ticket router",
    "summary": "Routes incoming support tickets to the queue that handles them.",
    "version": "1.0.0",
    "license": "apache-2.0",
    "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    "language": "en",
    "tags": ["support", "routing"],
    "intended_use": "Suggesting a queue for a new ticket; an agent confirms it.",
    "out_of_scope": ["Decisions about refunds", "Tickets in other languages"],
    "metrics": {"macro_f1": 0.91, "accuracy": 0.93},
    "quantitative_analyses": {"short tickets": {"macro_f1": 0.88, "rows": 120}, "long tickets": {"macro_f1": 0.94}},
    "ethical_considerations": None,
    "reviewed_by_role": "sign-off owner",
}


def _parity_texts() -> list[str]:
    """~200 texts: synthetic tickets plus the awkward cases (empty, longer than max_length, unknown words)."""
    texts, _ = make_texts(194, seed=11)
    rng = random.Random(3)
    long_text = " ".join(rng.choice(texts).rstrip(".?!") for _ in range(12))
    return texts + ["", long_text, "zzz qqq xylophone", "Ünïcödé parcel ✓", "REFUND REFUND", "a"]


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _with_texts(snippet: str, texts_file: Path) -> str:
    """The snippet with its one example ``texts = [...]`` line replaced by a read of ``texts_file``."""
    lines = snippet.splitlines()
    assert sum(line.startswith("texts = ") for line in lines) == 1
    return "\n".join(f"texts = json.load(open({str(texts_file)!r}))" if line.startswith("texts = ") else line
                     for line in lines)


def _run(code: str, *, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=_subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def checkpoint(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the 3-layer tiny BERT with a random head over three labels (L2-normalised input and
    a hidden layer: the longest path through the graph and the card's snippet)."""
    encoder = load_encoder(str(tiny_bert_dir), device="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        head = ClassifierHead(encoder.hidden_size, len(LABEL_NAMES), hidden=16, normalize=True)
        # Spread the logits, so the random head is not a near-uniform coin toss on every text.
        head.hidden.weight.data.mul_(10.0)
        head.out.weight.data.mul_(10.0)
    path, _ = save_checkpoint(
        tmp_path_factory.mktemp("checkpoints"), "tiny", encoder=encoder, head_state=head.state_dict(),
        head_config=head.config(), label_names=LABEL_NAMES,
        meta={"pooling": "mean", "max_length": MAX_LENGTH, "recipe": {"seed": 0}},
    )
    return path


@pytest.fixture(scope="module")
def built(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> packaging.PackageResult:
    return build_package(
        checkpoint, tmp_path_factory.mktemp("packages") / "tiny", temperature=TEMPERATURE, card=FULL_CARD,
        lineage={"base_model": {"source": "tiny-bert", "sha256": "ab" * 32}, "seed": 0, "code_version": "test"},
        parity_texts=_parity_texts(), reference={"true_label_mix": {"billing": 0.5}}, timing_calls=20,
    )


@pytest.fixture(scope="module")
def engine_probabilities(checkpoint: Path) -> np.ndarray:
    """What our own torch path says: predict_logits, then softmax(logits / T)."""
    encoder, head, _ = load_checkpoint(checkpoint, device="cpu")
    logits = predict_logits(encoder, head, _parity_texts(), max_length=MAX_LENGTH, pooling="mean")
    return calibrated(logits.numpy(), TEMPERATURE)


def test_fp32_onnx_agrees_exactly_and_int8_passes_or_is_flagged(built: packaging.PackageResult) -> None:
    variants = built.parity["variants"]
    assert built.parity["rows"] == 200
    assert variants["fp32"]["agreement"] == 1.0 and variants["fp32"]["max_abs_probability_diff"] < 1e-5
    assert built.parity_ok["fp32"] is True
    int8 = variants["int8"]
    assert int8["ok"] is (int8["agreement"] >= 0.995) and built.parity_ok["int8"] is int8["ok"]
    assert built.ok is (built.parity_ok["int8"] and built.parity_ok["fp32"])
    assert bool(built.warnings) is (not int8["ok"])
    assert int8["bytes"] < variants["fp32"]["bytes"]
    assert set(built.parity["latency"]) == {"torch", "onnx_fp32", "onnx_int8"}
    for timing in built.parity["latency"].values():
        assert timing["p50_ms"] > 0 and timing["p95_ms"] >= timing["p50_ms"] and timing["throughput_per_s"] > 0
    export = built.parity["export"]
    assert export["exporter"] == "torch.onnx.export(dynamo=True)", export.get("dynamo_error")
    assert export["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]


def test_the_graph_applies_the_temperature_and_has_dynamic_axes(
    built: packaging.PackageResult, engine_probabilities: np.ndarray, checkpoint: Path
) -> None:
    predictor = OnnxPredictor(built.path)
    got = predictor.predict_proba(_parity_texts())
    np.testing.assert_allclose(got, engine_probabilities, atol=1e-5)
    encoder, head, _ = load_checkpoint(checkpoint, device="cpu")
    raw = calibrated(predict_logits(encoder, head, _parity_texts(), max_length=MAX_LENGTH).numpy(), 1.0)
    assert np.abs(got - raw).max() > 0.05  # T = 2 visibly flattens the distribution
    assert np.all(got.max(axis=1) <= raw.max(axis=1) + 1e-6)
    assert json.loads((built.path / "model/calibration.json").read_text())["temperature"] == TEMPERATURE

    model = onnx.load(str(built.path / "onnx/model.onnx"))
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        assert all(d.dim_param and not d.dim_value for d in dims), graph_input.name
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["playbook.labels"]) == LABEL_NAMES and float(meta["playbook.temperature"]) == TEMPERATURE

    # One text, a batch, and a batch that splits across predictor batches all give the same rows.
    single = [predictor.predict_proba([text])[0] for text in _parity_texts()[:5]]
    np.testing.assert_allclose(np.stack(single), got[:5], atol=1e-5)
    predictions = predictor.predict(["my invoice is wrong"])
    assert set(predictions[0]) == {"label", "probabilities"} and list(predictions[0]["probabilities"]) == LABEL_NAMES
    assert predictor.predict([]) == []


def test_verification_refuses_an_altered_missing_or_extra_file(built: packaging.PackageResult, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built.path, copy)
    directory, sha, manifest = verify_package(copy, built.sha256)
    assert sha == built.sha256 and manifest["kind"] == "transformer" and set(manifest["files"]) == set(built.files)

    target = copy / "onnx/model.onnx"
    original = target.read_bytes()
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0x01
    target.write_bytes(bytes(altered))
    with pytest.raises(PackageInvalid, match="onnx/model.onnx was altered"):
        verify_package(copy)
    target.write_bytes(original)
    verify_package(copy, built.sha256)

    (copy / "model/labels.json").rename(tmp_path / "labels.json")
    with pytest.raises(PackageInvalid, match="model/labels.json is missing"):
        verify_package(copy)
    (tmp_path / "labels.json").rename(copy / "model/labels.json")

    (copy / "onnx/notes.txt").write_text("added later")
    with pytest.raises(PackageInvalid, match="unlisted"):
        verify_package(copy)
    (copy / "onnx/notes.txt").unlink()

    with pytest.raises(PackageInvalid, match="expected"):
        verify_package(copy, "0" * 64)
    raw = (copy / MANIFEST).read_bytes()
    (copy / MANIFEST).write_text(json.dumps(json.loads(raw), indent=2))
    with pytest.raises(PackageInvalid, match="canonical"):
        verify_package(copy)
    (copy / MANIFEST).write_bytes(raw)
    verify_package(copy, built.sha256)
    # OnnxPredictor verifies before it loads.
    (copy / "onnx/tokenizer.json").write_text("{}")
    with pytest.raises(PackageInvalid, match="tokenizer.json was altered"):
        OnnxPredictor(copy)


def test_no_pickles_anywhere_and_a_listed_pickle_is_refused(built: packaging.PackageResult, tmp_path: Path) -> None:
    for file in built.path.rglob("*"):
        if not file.is_file():
            continue
        rel = file.relative_to(built.path).as_posix()
        assert not rel.endswith(PICKLE_SUFFIXES), rel
        if file.suffix == ".safetensors":
            with safe_open(str(file), framework="numpy") as handle:
                assert list(handle.keys())
        else:
            assert file.read_bytes()[:1] != b"\x80", f"{rel} starts like a pickle"
    # Even a manifest rewritten to list it cannot smuggle a pickle in.
    copy = tmp_path / "copy"
    shutil.copytree(built.path, copy)
    payload = b"\x80\x04K\x01."  # pickle protocol 4 of the int 1
    (copy / "model/extra.bin").write_bytes(payload)
    manifest = json.loads((copy / MANIFEST).read_bytes())
    manifest["files"]["model/extra.bin"] = {"sha256": packaging._file_sha256(copy / "model/extra.bin"),
                                            "bytes": len(payload)}
    (copy / MANIFEST).write_bytes(packaging._canonical(manifest))
    with pytest.raises(PackageInvalid, match="not allowed"):
        verify_package(copy)
    (copy / "model/extra.bin").rename(copy / "model/extra.json")
    manifest["files"]["model/extra.json"] = manifest["files"].pop("model/extra.bin")
    (copy / MANIFEST).write_bytes(packaging._canonical(manifest))
    with pytest.raises(PackageInvalid, match="pickle"):
        verify_package(copy)


@pytest.fixture(scope="module")
def twin_builds(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[packaging.PackageResult]:
    """Two untimed builds of the same checkpoint into different folders, with an empty card and no
    temperature, and the embedding sample capped below the number of texts."""
    results = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(packaging, "EMBEDDING_SAMPLE", 50)
        for name in ("first", "second"):
            results.append(build_package(
                checkpoint, tmp_path_factory.mktemp(name) / "pkg", temperature=None, card={}, lineage={},
                parity_texts=_parity_texts(), timing_calls=0,
            ))
    return results


def test_two_builds_give_the_same_archive_bytes(twin_builds: list[packaging.PackageResult], tmp_path: Path) -> None:
    first, second = twin_builds
    assert first.sha256 == second.sha256
    archive = package_archive(first.path)
    assert isinstance(archive, bytes) and archive == package_archive(second.path)
    written = package_archive(second.path, tmp_path / "download.tar.gz")
    assert written == tmp_path / "download.tar.gz" and written.read_bytes() == archive

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names) and all(n.startswith(f"package-{first.sha256[:12]}/") for n in names)
        assert {m.mtime for m in members} == {packaging.ARCHIVE_MTIME} and {m.uid for m in members} == {0}
        tar.extractall(tmp_path / "unpacked", filter="data")
    verify_package(tmp_path / "unpacked" / f"package-{first.sha256[:12]}", first.sha256)

    calibration = json.loads((first.path / "model/calibration.json").read_text())
    assert calibration == {**calibration, "temperature": 1.0, "fitted": False}
    assert first.parity["latency"] is None


def test_an_empty_card_renders_not_recorded_and_a_full_card_fills_every_section(
    twin_builds: list[packaging.PackageResult], built: packaging.PackageResult
) -> None:
    sections = ["Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
                "Quantitative analyses", "Ethical considerations", "Caveats and recommendations"]
    empty = (twin_builds[0].path / "README.md").read_text()
    full = (built.path / "README.md").read_text()
    for readme in (empty, full):
        front, body = readme.split("---\n")[1], readme.split("---\n", 2)[2]
        meta = yaml.safe_load(front)
        assert meta["pipeline_tag"] == "text-classification" and meta["library_name"] == "transformers"
        assert {"onnx", "safetensors"} <= set(meta["tags"])
        for section in sections:
            assert f"## {section}\n" in body, section
        assert "tokenizers" in body and "outside the graph" in body
    assert "not recorded" in empty and "license" not in yaml.safe_load(empty.split("---\n")[1])

    meta = yaml.safe_load(full.split("---\n")[1])
    assert meta["license"] == "apache-2.0" and meta["base_model"] == FULL_CARD["base_model"]
    assert meta["metrics"] == ["f1", "accuracy"] and {"support", "routing"} <= set(meta["tags"])
    assert "| short tickets | 0.8800 | 120 |" in full
    assert "- Decisions about refunds" in full and "## Additional information" in full
    assert set(FULL_CARD) - {"reviewed_by_role"} <= set(CARD_FIELDS)
    assert "T = 2.0000" in full


def test_monitoring_reference_and_lineage(built: packaging.PackageResult, twin_builds, engine_probabilities,
                                          checkpoint: Path) -> None:
    reference, embeddings = load_reference(built.path)
    mix = reference["label_mix"]
    predicted = engine_probabilities.argmax(axis=1)
    assert mix["counts"] == {label: int((predicted == i).sum()) for i, label in enumerate(LABEL_NAMES)}
    assert sum(mix["shares"].values()) == pytest.approx(1.0)
    histogram = reference["confidence_histogram"]
    assert histogram["bins"] == 20 and len(histogram["counts"]) == 20 and sum(histogram["counts"]) == 200
    assert reference["supplied"] == {"true_label_mix": {"billing": 0.5}}
    assert embeddings.shape == (200, 32) and embeddings.dtype == np.float32
    encoder, _, _ = load_checkpoint(checkpoint, device="cpu")
    expected = encoder.encode(_parity_texts(), max_length=MAX_LENGTH, pooling="mean").numpy()
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)

    capped, sample = load_reference(twin_builds[0].path)
    assert sample.shape == (50, 32) and capped["embeddings"]["count"] == 50

    lineage = json.loads((built.path / "lineage.json").read_text())
    checkpoint_sha = load_checkpoint(checkpoint, device="cpu")[2]["sha256"]
    assert lineage["checkpoint_sha256"] == checkpoint_sha and lineage["seed"] == 0
    with pytest.raises(ValueError, match="lineage names checkpoint"):
        build_package(checkpoint, built.path.parent / "never", temperature=1.0, card={},
                      lineage={"checkpoint_sha256": "f" * 64}, parity_texts=["x"])
    assert not (built.path.parent / "never").exists()


def test_bad_arguments_and_a_failed_build_leave_nothing(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parity_texts is empty"):
        build_package(checkpoint, tmp_path / "a", temperature=1.0, card={}, lineage={}, parity_texts=[])
    with pytest.raises(ValueError, match="temperature"):
        build_package(checkpoint, tmp_path / "a", temperature=0.0, card={}, lineage={}, parity_texts=["x"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("someone else's")
    with pytest.raises(ValueError, match="not a package"):
        build_package(checkpoint, tmp_path / "busy", temperature=1.0, card={}, lineage={}, parity_texts=["x"])

    def cancel(step: int, metrics: dict, progress: float) -> None:
        if step == 3:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        build_package(checkpoint, tmp_path / "b", temperature=1.0, card={}, lineage={}, parity_texts=["x"],
                      report=cancel, timing_calls=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_flagged_variants_are_refused_unless_asked(built: packaging.PackageResult, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built.path, copy)
    parity = json.loads((copy / "parity.json").read_text())
    parity["variants"]["int8"]["ok"] = False
    (copy / "parity.json").write_text(json.dumps(parity))
    with pytest.raises(ValueError, match="int8 variant .* is flagged"):
        OnnxPredictor(copy, variant="int8", verify=False)
    assert OnnxPredictor(copy, variant="int8", verify=False, allow_flagged=True).predict(["refund"])
    with pytest.raises(ValueError, match="unknown variant"):
        OnnxPredictor(copy, variant="fp16", verify=False)


def test_both_card_snippets_reproduce_the_engine_in_fresh_processes(
    built: packaging.PackageResult, engine_probabilities: np.ndarray, tmp_path: Path
) -> None:
    snippets = card_snippets((built.path / "README.md").read_text())
    assert set(snippets) == {"transformers", "onnx"}
    texts = _parity_texts()[:60] + _parity_texts()[-6:]
    expected = np.concatenate([engine_probabilities[:60], engine_probabilities[-6:]])
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    results = {}
    for name, snippet in snippets.items():
        code = _with_texts(snippet, tmp_path / "texts.json")
        code += ('\nimport sys\nprint(json.dumps({"probabilities": probabilities.tolist(), "labels": predicted, '
                 '"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))')
        results[name] = _run(code, cwd=built.path)
    for name, result in results.items():
        got = np.asarray(result["probabilities"])
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=name)
        assert result["labels"] == [LABEL_NAMES[i] for i in expected.argmax(axis=1)], name
    assert results["onnx"]["torch"] is False and results["onnx"]["transformers"] is False


@pytest.mark.parametrize(("pooling", "hidden", "normalize"), [("mean", None, False), ("cls", 8, False),
                                                          ("mean", None, True)])
def test_the_transformers_snippet_follows_the_head_shape_and_pooling(
    built: packaging.PackageResult, checkpoint: Path, tmp_path: Path, pooling: str, hidden: int | None,
    normalize: bool,
) -> None:
    """The snippet is written for each package's head and pooling; run every variant (in this process)
    against a copy of the package holding a head of that shape."""
    copy = tmp_path / "copy"
    shutil.copytree(built.path, copy)
    encoder, _, _ = load_checkpoint(checkpoint, device="cpu")
    torch.manual_seed(9)
    head = ClassifierHead(encoder.hidden_size, len(LABEL_NAMES), hidden=hidden, normalize=normalize).eval()
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(copy / "model/head.safetensors"))
    snippet = packaging._transformers_snippet(pooling, MAX_LENGTH, head.config())
    snippet = snippet.replace('package = "."', f"package = {str(copy)!r}")
    (tmp_path / "texts.json").write_text(json.dumps(_parity_texts()[:20]))
    scope: dict = {}
    exec(compile(_with_texts(snippet, tmp_path / "texts.json"), "snippet", "exec"), scope)
    logits = predict_logits(encoder, head, _parity_texts()[:20], max_length=MAX_LENGTH, pooling=pooling)
    np.testing.assert_allclose(scope["probabilities"], calibrated(logits.numpy(), TEMPERATURE), atol=1e-5)


def test_onnx_predictor_imports_neither_torch_nor_transformers(built: packaging.PackageResult) -> None:
    code = (
        "import json, sys\n"
        "from workers.engine.packaging import OnnxPredictor, verify_package, package_archive\n"
        f"predictor = OnnxPredictor({str(built.path)!r}, variant='int8', allow_flagged=True)\n"
        "out = predictor.predict(['my parcel never arrived', 'refund my card'])\n"
        "print(json.dumps({'out': out, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
        " 'sklearn': 'sklearn' in sys.modules}))\n"
    )
    result = _run(code, cwd=REPO)
    assert result["torch"] is False and result["transformers"] is False and result["sklearn"] is False
    here = OnnxPredictor(built.path, variant="int8", allow_flagged=True).predict(
        ["my parcel never arrived", "refund my card"])
    assert [r["label"] for r in result["out"]] == [r["label"] for r in here]


@pytest.mark.parametrize("baseline", ["tfidf_logreg", "majority"])
def test_baseline_packages_round_trip_through_skops(baseline: str, tmp_path: Path) -> None:
    train_texts, train_labels = make_texts(90, seed=21)
    test_texts, _ = make_texts(40, seed=22)
    result = build_baseline_package(
        train_texts, train_labels, LABEL_NAMES, baseline, tmp_path / "pkg", card={"model_name": "Baseline"},
        lineage={"dataset_version": 3}, parity_texts=test_texts, timing_calls=10,
    )
    assert result.kind == "baseline" and result.parity_ok == {"skops": True}
    assert result.parity["variants"]["skops"]["max_abs_probability_diff"] == 0.0
    directory, sha, manifest = verify_package(result.path, result.sha256)
    assert manifest["kind"] == "baseline" and "model/model.skops" in manifest["files"]

    reference = TfidfLogRegClassifier() if baseline == "tfidf_logreg" else MajorityClassifier()
    expected = reference.fit(train_texts, train_labels).predict(test_texts)
    assert [str(label) for label in load_baseline(result.path).predict(test_texts)] == expected
    predictions = SkopsPredictor(result.path).predict(test_texts)
    assert [p["label"] for p in predictions] == expected and list(predictions[0]["probabilities"]) == LABEL_NAMES

    with zipfile.ZipFile(result.path / "model/model.skops") as archive:
        members = archive.namelist()
        assert "schema.json" in members and all(m == "schema.json" or m.endswith(".npy") for m in members)
        for member in members:
            if member.endswith(".npy"):
                np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
    assert packaging._skops_types(result.path / "model/model.skops") <= set(SKOPS_TRUSTED_TYPES)
    lineage = json.loads((result.path / "lineage.json").read_text())
    assert lineage["baseline"] == baseline and lineage["dataset_version"] == 3 and lineage["train_rows"] == 90
    readme = (result.path / "README.md").read_text()
    assert yaml.safe_load(readme.split("---\n")[1])["library_name"] == "sklearn"
    reference_json, embeddings = load_reference(result.path)
    assert embeddings is None and sum(reference_json["label_mix"]["counts"].values()) == 40
    with pytest.raises(ValueError, match="is a baseline package"):
        OnnxPredictor(result.path)

    if baseline == "tfidf_logreg":
        (tmp_path / "texts.json").write_text(json.dumps(test_texts))
        code = _with_texts(card_snippets(readme)["skops"], tmp_path / "texts.json")
        code += "\nprint(json.dumps({'labels': [str(p) for p in predicted], 'trusted': len(trusted)}))"
        assert _run(code, cwd=result.path) == {"labels": expected, "trusted": len(SKOPS_TRUSTED_TYPES)}


def test_a_baseline_with_unknown_labels_or_name_is_refused(tmp_path: Path) -> None:
    texts, labels = make_texts(30, seed=1)
    with pytest.raises(ValueError, match="not in label_names"):
        build_baseline_package(texts, labels, ["billing", "shipping"], "majority", tmp_path / "a", card={},
                               lineage={}, parity_texts=texts)
    with pytest.raises(ValueError, match="unknown baseline"):
        build_baseline_package(texts, labels, LABEL_NAMES, "forest", tmp_path / "a", card={}, lineage={},
                               parity_texts=texts)
    assert not (tmp_path / "a").exists()
