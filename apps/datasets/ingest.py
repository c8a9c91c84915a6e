"""Reading an uploaded labelled file into canonical rows, or a message that names the problem and the row.

Accepts CSV (header with `text` and `label`) or JSONL (one object per line with those keys), UTF-8 with
or without a byte-order mark. Nothing here touches the database or the disk: the caller stores the rows
only when this returns without raising.
"""
import codecs
import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field

from apps.core.errors import ValidationFailed

REQUIRED = ("text", "label")
SHORT_TEXT = 3


@dataclass
class Parsed:
    rows: list[dict]
    labels: list[str]
    label_counts: dict[str, int]
    sha256: str
    canonical: bytes
    warnings: list[str] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationFailed(
            f"The file is not UTF-8 text: undecodable byte at line {line} (save it as UTF-8 and upload again).",
            {"line": line},
        ) from None


def _detect_format(filename: str, text: str) -> str:
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def _csv_rows(text: str):
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("The file is empty: expected a header row with text and label columns.") from None
    except csv.Error as exc:
        raise ValidationFailed(f"Line 1: malformed CSV header ({exc}).", {"line": 1}) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValidationFailed(
            f"Missing column(s) {', '.join(missing)} in the header; found: {', '.join(h for h in header) or 'nothing'}. "
            "The file needs a 'text' and a 'label' column.", {"line": 1},
        )
    t_index, l_index = names.index("text"), names.index("label")
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(f"Line {reader.line_num}: malformed CSV ({exc}).", {"line": reader.line_num}) from None
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise ValidationFailed(
                f"Line {reader.line_num}: expected {len(header)} fields, found {len(record)}.",
                {"line": reader.line_num},
            )
        yield reader.line_num, record[t_index], record[l_index]


def _jsonl_rows(text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"Line {number}: not valid JSON ({exc.msg}).", {"line": number}) from None
        if not isinstance(obj, dict):
            raise ValidationFailed(f"Line {number}: expected a JSON object with text and label.", {"line": number})
        missing = [c for c in REQUIRED if c not in obj]
        if missing:
            raise ValidationFailed(f"Line {number}: missing key(s) {', '.join(missing)}.", {"line": number})
        yield number, obj["text"], obj["label"]


def parse_labelled_file(raw: bytes, filename: str, *, max_bytes: int, max_rows: int) -> Parsed:
    """Validate and normalise an upload. Raises ValidationFailed naming the problem (and line)."""
    if len(raw) > max_bytes:
        raise ValidationFailed(
            f"The file is {len(raw):,} bytes; the limit is {max_bytes:,} bytes.", {"limit": max_bytes}
        )
    if not raw.strip(codecs.BOM_UTF8 + b" \r\n\t"):
        raise ValidationFailed("The file is empty.")
    text = _decode(raw)
    fmt = _detect_format(filename, text)
    source = _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)
    rows: list[dict] = []
    short = 0
    for line, raw_text, raw_label in source:
        if not isinstance(raw_text, str) or not isinstance(raw_label, (str, int)) or isinstance(raw_label, bool):
            raise ValidationFailed(f"Line {line}: text must be a string and label a string.", {"line": line})
        body, label = raw_text.strip(), str(raw_label).strip()
        if not body:
            raise ValidationFailed(f"Line {line}: the text is empty.", {"line": line})
        if not label:
            raise ValidationFailed(f"Line {line}: the label is empty.", {"line": line})
        if len(rows) >= max_rows:
            raise ValidationFailed(f"The file has more than {max_rows:,} rows, the limit.", {"limit": max_rows})
        short += len(body) < SHORT_TEXT
        rows.append({"text": body, "label": label})
    if not rows:
        raise ValidationFailed("The file has a header but no rows.")
    counts = Counter(r["label"] for r in rows)
    if len(counts) < 2:
        only = next(iter(counts))
        raise ValidationFailed(f"Every row has the label {only!r}: a classifier needs at least two classes.")
    warnings = []
    if short:
        warnings.append(f"{short} text(s) shorter than {SHORT_TEXT} characters.")
    duplicates = len(rows) - len({(r["text"], r["label"]) for r in rows})
    if duplicates:
        warnings.append(f"{duplicates} exact duplicate row(s).")
    canonical = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()
    return Parsed(
        rows=rows,
        labels=sorted(counts),
        label_counts=dict(sorted(counts.items())),
        sha256=hashlib.sha256(canonical).hexdigest(),
        canonical=canonical,
        warnings=warnings,
    )
