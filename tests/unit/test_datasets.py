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
    assert response.status_code == 400 and "limit is 100 bytes" in response.json()["error"]
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
