"""Uploading a labelled sample: every bad file is refused with a message naming the problem, and
leaves no row and no file behind."""
import pytest
from django.test import Client

from apps.datasets.models import Dataset
from tests.conftest import SAMPLE_CSV

pytestmark = pytest.mark.django_db


def api(team):
    from apps.accounts.services import token_issue

    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token_issue(user=team['mo']).key}"
    return client


def stored_files(settings):
    folder = settings.DATA_DIR / "artifacts" / "datasets"
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


BAD = [
    ("missing column", "text,category\nhello,a\nbye,b\n", "Missing column(s) label"),
    ("empty file", "", "empty"),
    ("header only", "text,label\n", "no rows"),
    ("empty text", "text,label\nhello,a\n   ,b\n", "Line 3: the text is empty"),
    ("empty label", "text,label\nhello,a\nbye,\n", "Line 3: the label is empty"),
    ("single class", "text,label\nhello,a\nbye,a\n", "at least two classes"),
    ("extra field", "text,label\nhello,a\nbye,b,c\n", "Line 3: expected 2 fields"),
    ("not utf-8", "text,label\nhello,a\ncaf\xe9,b\n".encode("latin-1"), "not UTF-8"),
    ("bad jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": \n', "Line 2: not valid JSON"),
    ("jsonl missing key", '{"text": "a", "label": "x"}\n{"text": "b"}\n', "Line 2: missing key(s) label"),
]


@pytest.mark.parametrize("content,needle", [pytest.param(c, n, id=i) for i, c, n in BAD])
def test_a_bad_file_is_refused_and_nothing_is_stored(team, settings, content, needle):
    name = "bad.jsonl" if "jsonl" in needle or (isinstance(content, str) and content.startswith("{")) else "bad.csv"
    from django.core.files.uploadedfile import SimpleUploadedFile

    raw = content.encode() if isinstance(content, str) else content
    response = api(team).post(f"/api/projects/{team['project'].pk}/datasets/",
                              {"file": SimpleUploadedFile(name, raw, "text/plain")})
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert Dataset.objects.count() == 0 and stored_files(settings) == []


def test_a_file_over_the_size_limit_is_refused(team, settings, sample_upload):
    settings.PLAYBOOK_UPLOAD_MAX_BYTES = 100
    response = api(team).post(f"/api/projects/{team['project'].pk}/datasets/", {"file": sample_upload()})
    assert response.status_code == 413 and "limit of 100 bytes" in response.json()["error"]
    assert Dataset.objects.count() == 0 and stored_files(settings) == []


def test_a_good_file_with_bom_is_stored_content_addressed(team, settings, sample_upload):
    response = api(team).post(f"/api/projects/{team['project'].pk}/datasets/",
                              {"file": sample_upload(b"\xef\xbb\xbf" + SAMPLE_CSV.encode())})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rows"] == SAMPLE_CSV.count("\n") - 1 and body["labels"] == ["access", "billing", "bug"]
    dataset = Dataset.objects.get(pk=body["id"])
    assert stored_files(settings) == [f"{dataset.sha256}.jsonl"]
    # The same rows as JSONL are the same content: the same hash.
    jsonl = "".join(f'{{"text": "{r["text"]}", "label": "{r["label"]}"}}\n' for r in dataset.read_rows())
    again = api(team).post(f"/api/projects/{team['project'].pk}/datasets/", {"file": sample_upload(jsonl, "s.jsonl")})
    assert again.json()["sha256"] == dataset.sha256


def test_duplicates_and_short_texts_warn_without_blocking(team, sample_upload):
    response = api(team).post(f"/api/projects/{team['project'].pk}/datasets/",
                              {"file": sample_upload("text,label\nhi,a\nhi,a\nhello there,b\n")})
    assert response.status_code == 201
    warnings = " ".join(response.json()["warnings"])
    assert "1 exact duplicate" in warnings and "shorter than" in warnings


def _upload(team, content, name, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    raw = content.encode() if isinstance(content, str) else content
    return api(team).post(f"/api/projects/{team['project'].pk}/datasets/",
                          {"file": SimpleUploadedFile(name, raw, "application/octet-stream"), **fields})


def test_parquet_with_mapped_columns(team, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "s.parquet"
    table = pa.table({"body": ["refund please", "cannot log in", "refund again", "locked out"],
                      "queue": ["billing", "access", "billing", "access"], "extra": [1, 2, 3, 4]})
    pq.write_table(table, path)
    missing = _upload(team, path.read_bytes(), "s.parquet")
    assert missing.status_code == 400 and "Missing column(s) text" in missing.json()["error"]
    ok = _upload(team, path.read_bytes(), "s.parquet", text_column="body", label_column="queue")
    assert ok.status_code == 201, ok.json()
    assert ok.json()["label_counts"] == {"access": 2, "billing": 2}
    assert ok.json()["text_column"] == "body"


def test_csv_column_mapping_is_case_insensitive_and_unmapped_columns_are_named(team):
    content = "Message,Queue\nrefund please,billing\ncannot log in,access\n"
    refused = _upload(team, content, "s.csv")
    assert refused.status_code == 400 and "found: Message, Queue" in refused.json()["error"]
    assert _upload(team, content, "s.csv", text_column="message", label_column="queue").status_code == 201


def test_a_production_sample_may_come_without_labels(team):
    response = _upload(team, "text\nhi there my card got charged twice\nwhere is my parcel\n", "prod.csv",
                       kind="production_sample")
    assert response.status_code == 201, response.json()
    assert response.json()["rows"] == 2 and response.json()["labelled_rows"] == 0
    assert _upload(team, "text\nhi\nthere\n", "prod.csv").status_code == 400  # a labelled sample needs labels


def test_small_classes_are_warned_about(team):
    rows = "".join(f"text {i},big\n" for i in range(10)) + "one,small\ntwo,small\n"
    response = _upload(team, "text,label\n" + rows, "s.csv")
    assert response.status_code == 201
    assert any("fewer than 5 examples: small" in w for w in response.json()["warnings"])


def test_a_large_upload_is_streamed_to_disk(team, settings):
    """A file far larger than Django's in-memory upload limit goes through the streaming path intact."""
    rows = "".join(f"ticket number {i} about {'billing' if i % 2 else 'access'} problems,"
                   f"{'billing' if i % 2 else 'access'}\n" for i in range(60_000))
    content = "text,label\n" + rows
    assert len(content) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    response = _upload(team, content, "big.csv")
    assert response.status_code == 201 and response.json()["rows"] == 60_000


def test_more_rows_make_a_new_version_linked_to_its_parent(team, sample_upload):
    first = api(team).post(f"/api/projects/{team['project'].pk}/datasets/", {"file": sample_upload()}).json()
    more = _upload(team, "text,label\nmy refund never arrived,billing\nnew phone cannot log in,access\n", "more.csv",
                   parent=first["id"])
    assert more.status_code == 201, more.json()
    body = more.json()
    assert body["parent"] == first["id"] and body["rows"] == first["rows"] + 2
    assert body["label_counts"]["billing"] == first["label_counts"]["billing"] + 1
    assert body["sha256"] != first["sha256"]
    child = Dataset.objects.get(pk=body["id"])
    assert child.read_rows()[: first["rows"]] == Dataset.objects.get(pk=first["id"]).read_rows()
    assert Dataset.objects.get(pk=first["id"]).rows == first["rows"]  # the parent never changes


def test_extra_columns_are_kept_on_each_row_for_slicing_in_every_format(team, tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_content = "text,label,channel,notes\nrefund please,billing,email,\ncannot log in,access,chat,vip\n"
    jsonl_content = ('{"text": "refund please", "label": "billing", "channel": "email", "nested": {"a": 1}}\n'
                     '{"text": "cannot log in", "label": "access", "channel": "chat", "flag": true}\n')
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"text": ["refund please", "cannot log in"], "label": ["billing", "access"],
                             "channel": ["email", "chat"], "score": [0.5, 2.0]}), path)
    expected = {"csv": [{"channel": "email"}, {"channel": "chat", "notes": "vip"}],
                "jsonl": [{"channel": "email"}, {"channel": "chat"}],  # nested values and booleans are left out
                "parquet": [{"channel": "email", "score": "0.5"}, {"channel": "chat", "score": "2"}]}
    for fmt, content in (("csv", csv_content), ("jsonl", jsonl_content), ("parquet", path.read_bytes())):
        response = _upload(team, content, f"s.{fmt}")
        assert response.status_code == 201, response.json()
        dataset = Dataset.objects.get(pk=response.json()["id"])
        rows = sorted(dataset.read_rows(), key=lambda r: r["text"], reverse=True)
        assert [r.get("meta") for r in rows] == expected[fmt], fmt
        assert all(set(r) <= {"text", "label", "meta"} for r in rows)
        assert json.dumps(rows)  # plain JSON


def test_a_failed_upload_never_removes_a_file_that_a_committed_dataset_refers_to(team, settings, sample_upload,
                                                                                 monkeypatch):
    """Two uploads of the same bytes: the one that created the content's file fails, the other found the file in
    place and committed. The failure's cleanup must leave the file its neighbour's row points to."""
    from apps.datasets import services

    kept = services.dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    real_store = services.store_canonical
    monkeypatch.setattr(services, "store_canonical", lambda tmp, sha: (real_store(tmp, sha)[0], True))

    def failing_audit(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "audit_record", failing_audit)
    with pytest.raises(RuntimeError):
        services.dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    assert stored_files(settings) == [kept.path.rsplit("/", 1)[-1]]
    assert kept.read_rows()  # still readable

    # With no dataset referring to it, the file the failed upload created is removed.
    monkeypatch.setattr(services, "store_canonical", real_store)
    with pytest.raises(RuntimeError):
        services.dataset_upload(actor=team["do"], project=team["project"],
                                upload=sample_upload(SAMPLE_CSV + "one more row,bug\n"))
    assert stored_files(settings) == [kept.path.rsplit("/", 1)[-1]]
