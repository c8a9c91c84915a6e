"""Property tests of the ingest parser: any bytes, CSV, JSONL or Parquet give a clean dataset or a
ValidationFailed naming the problem, never another exception, a partial file or a leftover temporary file.
And the real upload size limit, with a file one byte over it, streamed through the WSGI handler."""
import csv
import hashlib
import io
import json
import tempfile
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.core.errors import UploadTooLarge, ValidationFailed
from apps.datasets.ingest import Options, ingest

FUZZ = hypothesis_settings(max_examples=60, deadline=None, database=None,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
NAMES = st.sampled_from(["data.csv", "data.jsonl", "data.parquet", "data.txt", "upload"])
texts = st.text(min_size=0, max_size=40)
labels = st.one_of(st.sampled_from(["billing", "access", "bug", " ", ""]), st.text(max_size=8), st.none(),
                   st.integers(-3, 3))


def _ingest(raw: bytes, filename: str, dest: Path, *, max_bytes=1_000_000, size="declared", require_labels=True):
    options = Options(require_labels=require_labels, min_class_rows=1)
    return ingest(io.BytesIO(raw), filename=filename, size=len(raw) if size == "declared" else size,
                  max_bytes=max_bytes, dest_dir=dest, options=options)


def _check_outcome(raw: bytes, filename: str, **kwargs):
    """Either a dataset whose canonical file is whole and consistent, or a clear refusal leaving nothing."""
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "datasets"
        try:
            result = _ingest(raw, filename, dest, **kwargs)
        except ValidationFailed as refusal:
            assert refusal.message.strip()
            assert not dest.exists() or not any(dest.iterdir()), "a refused upload left a file behind"
            return None
        assert list(dest.iterdir()) == [result.path]
        content = result.path.read_bytes()
        assert hashlib.sha256(content).hexdigest() == result.sha256
        with result.path.open(encoding="utf-8") as canonical:  # as Dataset.read_rows reads it
            rows = [json.loads(line) for line in canonical]
        assert len(rows) == result.rows > 0
        for row in rows:
            assert isinstance(row["text"], str) and row["text"] == row["text"].strip() and row["text"]
            assert "\x00" not in row["text"] and "\x00" not in row.get("label", "")
        assert sum(result.label_counts.values()) == result.labelled_rows
        if kwargs.get("require_labels", True):
            assert all(row.get("label") for row in rows) and len(result.labels) >= 2
        return rows


@FUZZ
@given(raw=st.binary(max_size=400), filename=NAMES)
def test_arbitrary_bytes_are_a_dataset_or_a_clear_refusal(raw, filename):
    _check_outcome(raw, filename)


@FUZZ
@given(raw=st.binary(max_size=200), filename=NAMES)
def test_arbitrary_bytes_after_a_valid_header(raw, filename):
    _check_outcome(b"text,label\n" + raw, filename)
    _check_outcome(b'{"text": "a", "label": "b"}\n' + raw, filename)


@FUZZ
@given(rows=st.lists(st.tuples(texts, labels), max_size=12), extra=st.booleans(), require_labels=st.booleans())
def test_csv_round_trips_its_rows_or_names_the_problem(rows, extra, require_labels):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"] + (["channel"] if extra else []))
    for text, label in rows:
        writer.writerow([text, "" if label is None else label] + (["email"] if extra else []))
    kept = _check_outcome(out.getvalue().encode(), "data.csv", require_labels=require_labels)
    if kept is not None:  # every row kept, in order, but the wholly blank ones (skipped)
        cells = [[text, "" if label is None else str(label)] + (["email"] if extra else []) for text, label in rows]
        expected = [text.strip() for (text, _), row in zip(rows, cells) if any(c.strip() for c in row)]
        assert [row["text"] for row in kept] == expected


@FUZZ
@given(objects=st.lists(st.dictionaries(st.sampled_from(["text", "label", "lang", "n"]),
                                        st.one_of(texts, labels, st.floats(), st.booleans(),
                                                  st.lists(st.integers(), max_size=2))),
                        max_size=10),
       junk=st.sampled_from(["", "\n", "[]\n", "[" * 5000 + "\n", "{\"text\": \n"]))
@example(objects=[], junk="[" * 5000 + "\n")  # nesting deeper than the JSON decoder's recursion limit
def test_jsonl_objects_are_a_dataset_or_a_clear_refusal(objects, junk):
    raw = "".join(json.dumps(obj) + "\n" for obj in objects) + junk
    _check_outcome(raw.encode(), "data.jsonl")


def _parquet_bytes(columns: dict) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


@hypothesis_settings(FUZZ, max_examples=40)
@given(rows=st.lists(st.tuples(st.one_of(texts, st.none()), st.one_of(st.text(max_size=6), st.none())),
                     min_size=1, max_size=10),
       text_as_numbers=st.booleans(), cut=st.integers(0, 400), flip=st.integers(0, 400))
def test_parquet_whole_cut_or_damaged_is_a_dataset_or_a_clear_refusal(rows, text_as_numbers, cut, flip):
    text = [len(t or "") for t, _ in rows] if text_as_numbers else [t for t, _ in rows]
    raw = _parquet_bytes({"text": text, "label": [label for _, label in rows]})
    _check_outcome(raw, "data.parquet")
    _check_outcome(raw[:max(0, len(raw) - cut)], "data.parquet")
    damaged = bytearray(raw)
    damaged[flip % len(damaged)] ^= 0xFF
    _check_outcome(bytes(damaged), "data.parquet")


def test_a_file_one_byte_over_the_limit_is_refused_whatever_size_is_declared(tmp_path):
    good = b"text,label\n" + b"".join(b"row %d,%s\n" % (i, b"ab"[i % 2:i % 2 + 1]) for i in range(40))
    limit = len(good)
    assert _ingest(good, "data.csv", tmp_path, max_bytes=limit).rows == 40
    for declared in ("declared", None, 10):  # honest, missing, or a lie
        with pytest.raises(UploadTooLarge) as refused:
            _ingest(good + b"x", "data.csv", tmp_path / "over", max_bytes=limit, size=declared)
        assert refused.value.status_code == 413 and refused.value.extra == {"limit": limit}
    assert not (tmp_path / "over").exists()


# --- the real limit, over HTTP -----------------------------------------------------------------------------

BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"
CHUNK = 64 * 1024


class StreamedBody:
    """A multipart body made on the fly: a `file` part of `file_size` bytes that is never held whole.
    Counts what the server read, to show where it stopped."""

    def __init__(self, file_size: int):
        self.head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
                     f"Content-Type: text/csv\r\n\r\n").encode() + b"text,label\n"
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.filler = file_size - len(b"text,label\n")
        self.length = len(self.head) - len(b"text,label\n") + file_size + len(self.tail)
        self.position = 0
        self._row = b"a support ticket about billing,billing\n" * (CHUNK // 39 + 1)

    def _byte_range(self, start: int, end: int) -> bytes:
        parts, head_end, body_end = [], len(self.head), len(self.head) + self.filler
        if start < head_end:
            parts.append(self.head[start:min(end, head_end)])
        if end > head_end and start < body_end:
            lo, hi = max(start, head_end) - head_end, min(end, body_end) - head_end
            while lo < hi:
                offset = lo % len(self._row)
                piece = self._row[offset:offset + (hi - lo)]
                parts.append(piece)
                lo += len(piece)
        if end > body_end:
            parts.append(self.tail[max(start, body_end) - body_end:end - body_end])
        return b"".join(parts)

    def read(self, size: int = -1) -> bytes:
        end = self.length if size is None or size < 0 else min(self.length, self.position + size)
        data = self._byte_range(self.position, end)
        self.position = end
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _post_streamed(project_id: int, token: str, body: StreamedBody, *, declare_length: bool = True):
    from django.test import RequestFactory
    from django.test.client import ClientHandler

    environ = RequestFactory()._base_environ(
        PATH_INFO=f"/api/projects/{project_id}/datasets/", REQUEST_METHOD="POST",
        CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}", HTTP_AUTHORIZATION=f"Token {token}",
        **{"wsgi.input": body})
    if declare_length:
        environ["CONTENT_LENGTH"] = str(body.length)
    else:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    tracemalloc.start()
    try:
        response = ClientHandler(enforce_csrf_checks=False)(environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return response, peak


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("*.upload*")}


@pytest.mark.django_db
def test_the_real_size_limit_streams_a_file_one_byte_over_it_and_keeps_nothing(team, settings):
    from apps.accounts.services import token_issue
    from apps.audit.models import AuditEvent
    from apps.datasets.models import Dataset

    limit = settings.PLAYBOOK_UPLOAD_MAX_BYTES
    token = token_issue(user=team["do"]).key
    project = team["project"]
    events, before = AuditEvent.objects.count(), _leftovers()

    # A declared length that cannot fit: refused before a byte of the body is read.
    huge = StreamedBody(limit + 1024 * 1024)
    response, _ = _post_streamed(project.pk, token, huge)
    assert response.status_code == 413 and huge.position == 0

    # No length declared (chunked): the WSGI request reads no body, so there is no file to take.
    undeclared = StreamedBody(limit + 1)
    response, _ = _post_streamed(project.pk, token, undeclared, declare_length=False)
    assert response.status_code == 400 and "error" in json.loads(response.content)
    assert undeclared.position == 0

    # One byte over, declared honestly: read as a stream, refused once the file passes the limit. (Measured
    # after the two requests above, so that the peak is the upload's and not the first import of the views.)
    over = StreamedBody(limit + 1)
    response, peak = _post_streamed(project.pk, token, over)
    assert response.status_code == 413, response.content[:300]
    assert json.loads(response.content) == {"error": f"The file is over the limit of {limit:,} bytes.",
                                            "limit": limit}
    assert over.position <= limit + 2 * CHUNK + len(over.head)
    # Held in memory, the file alone would be 20 MiB; streamed to a spooled file, the peak is a few chunks.
    assert peak < 2 * 1024 * 1024, f"peak {peak:,} bytes while streaming a {limit + 1:,}-byte file"
    print(f"\nstreamed {over.position:,} of {over.length:,} bytes, peak traced memory {peak:,} bytes")

    assert not Dataset.objects.filter(project=project).exists()
    assert AuditEvent.objects.count() == events
    assert not list(Path(settings.DATA_DIR).rglob(".ingest-*"))
    assert _leftovers() <= before


@pytest.mark.django_db
def test_a_nul_in_a_label_is_refused_with_its_line_not_a_server_error(team, sample_upload):
    from django.test import Client

    from apps.accounts.services import token_issue
    from apps.datasets.models import Dataset

    client = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['do']).key}")
    rows = "text,label\n" + "".join(f"ticket {i},{'bill' if i % 2 else 'bug'}\n" for i in range(6)) + "one more,b\x00g\n"
    response = client.post(f"/api/projects/{team['project'].pk}/datasets/", {"file": sample_upload(rows)})
    assert response.status_code == 400 and response.json()["line"] == 8, response.content[:300]
    assert "NUL" in response.json()["error"] and not Dataset.objects.exists()
