"""Streaming ingest of an uploaded file into canonical rows, or a message naming the problem and the line.

Accepts CSV (a header row), JSONL (one object per line) or Parquet, UTF-8 with or without a byte-order
mark; the owner names the text and label columns. The file is read as a stream and the canonical rows
(JSON lines with sorted keys) are written to a temporary file while their sha256 is computed, so a large
upload is never held whole in memory. Nothing here touches the database: the caller keeps the temporary
file only when this returns without raising (it is removed on every error).
"""
import csv
import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from apps.core.errors import UploadTooLarge, ValidationFailed

SHORT_TEXT = 3
# Columns besides text and label are kept (as "meta" on each row) so that Play 5 can slice its evaluation
# by them (channel, language, product...): the first few, with short values.
MAX_EXTRA_COLUMNS = 10
MAX_EXTRA_VALUE = 200


@dataclass
class Ingested:
    path: Path  # the temporary canonical file; the caller moves it into place or deletes it
    sha256: str
    rows: int
    labels: list[str]
    label_counts: dict[str, int]
    labelled_rows: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class Options:
    text_column: str = "text"
    label_column: str = "label"
    require_labels: bool = True
    max_rows: int = 200_000
    min_class_rows: int = 5


def detect_format(filename: str, head: bytes) -> str:
    lower = filename.lower()
    if lower.endswith(".parquet") or head.startswith(b"PAR1"):
        return "parquet"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{") else "csv"


def _missing(found: list[str], options: Options, *, line: int | None = None, fold_case: bool = False):
    wanted = [options.text_column] + ([options.label_column] if options.require_labels else [])
    present = [f.lower() for f in found] if fold_case else found
    missing = [c for c in wanted if (c.lower() if fold_case else c) not in present]
    if missing:
        where = {"line": line} if line else {}
        raise ValidationFailed(
            f"Missing column(s) {', '.join(missing)} in the header; found: {', '.join(found) or 'nothing'}. "
            f"Map the text column (now {options.text_column!r}) and the label column (now {options.label_column!r}).",
            where,
        )


def _csv_rows(stream, options: Options):
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise ValidationFailed("The file is empty: expected a header row with text and label columns.") from None
        except csv.Error as exc:
            raise ValidationFailed(f"Line 1: malformed CSV header ({exc}).", {"line": 1}) from None
        names = [h.strip() for h in header]
        lowered = [n.lower() for n in names]
        _missing(names, options, line=1, fold_case=True)
        t_index = lowered.index(options.text_column.lower())
        l_index = lowered.index(options.label_column.lower()) if options.label_column.lower() in lowered else None
        extra = [(i, n) for i, n in enumerate(names) if i not in (t_index, l_index) and n][:MAX_EXTRA_COLUMNS]
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
                raise ValidationFailed(f"Line {reader.line_num}: expected {len(header)} fields, found {len(record)}.",
                                       {"line": reader.line_num})
            yield (reader.line_num, record[t_index], (record[l_index] if l_index is not None else None),
                   {name: record[i] for i, name in extra})
    except UnicodeDecodeError:
        line = reader.line_num + 1
        raise ValidationFailed(
            f"The file is not UTF-8 text: undecodable bytes near line {line} (save it as UTF-8 and upload again).",
            {"line": line},
        ) from None
    finally:
        text.detach()


def _jsonl_rows(stream, options: Options):
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"The file is not UTF-8 text: undecodable bytes at line {number} (save it as UTF-8 and upload again).",
                {"line": number},
            ) from None
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"Line {number}: not valid JSON ({exc.msg}).", {"line": number}) from None
        except RecursionError:  # a line of thousands of nested brackets
            raise ValidationFailed(f"Line {number}: JSON nested too deeply.", {"line": number}) from None
        if not isinstance(obj, dict):
            raise ValidationFailed(f"Line {number}: expected a JSON object.", {"line": number})
        wanted = [options.text_column] + ([options.label_column] if options.require_labels else [])
        if missing := [c for c in wanted if c not in obj]:
            raise ValidationFailed(f"Line {number}: missing key(s) {', '.join(missing)}.", {"line": number})
        extra = {k: v for k, v in obj.items() if k not in (options.text_column, options.label_column)
                 and isinstance(v, (str, int, float)) and not isinstance(v, bool)}
        yield number, obj[options.text_column], obj.get(options.label_column), dict(list(extra.items())[:MAX_EXTRA_COLUMNS])


def _parquet_rows(stream, options: Options):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A damaged file can pass the footer check and fail in any row group, or hold names and strings that
    # are not UTF-8: every read from pyarrow is a clear refusal, never a crash.
    unreadable = (pa.ArrowException, OSError, ValueError)
    try:
        parquet = pq.ParquetFile(stream)
        found = parquet.schema_arrow.names
    except unreadable as exc:
        raise ValidationFailed(f"The file is not a readable Parquet file ({exc}).") from None
    _missing(found, options)
    scalar = {name for name, kind in zip(found, parquet.schema_arrow.types)
              if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
              or pa.types.is_floating(kind)}
    extra = [n for n in found if n not in (options.text_column, options.label_column) and n in scalar][:MAX_EXTRA_COLUMNS]
    columns = [options.text_column] + ([options.label_column] if options.label_column in found else []) + extra
    number = 0
    batches = parquet.iter_batches(batch_size=4096, columns=columns)
    while True:
        try:
            data = next(batches).to_pydict()
        except StopIteration:
            return
        except unreadable as exc:
            raise ValidationFailed(f"The file is not a readable Parquet file ({exc}).") from None
        texts = data[options.text_column]
        labels = data.get(options.label_column, [None] * len(texts))
        for i, (text, label) in enumerate(zip(texts, labels)):
            number += 1
            yield number, text if text is not None else "", label, {name: data[name][i] for name in extra}


def _meta(extra: dict) -> dict[str, str]:
    """A row's extra columns as short strings; empty values are left out."""
    meta = {}
    for name, value in extra.items():
        if value is None or isinstance(value, bool):
            continue
        # NULs dropped: slices are stored in PostgreSQL, whose text cannot hold one.
        text = (f"{value:g}" if isinstance(value, float) else str(value)).replace("\x00", "").strip()
        if text:
            meta[str(name).replace("\x00", "")[:64]] = text[:MAX_EXTRA_VALUE]
    return meta


def ingest(stream, *, filename: str, size: int | None, max_bytes: int, dest_dir: Path, options: Options) -> Ingested:
    """Validate and canonicalise an upload; raises ValidationFailed (and leaves no file) on any problem."""
    if size is None or size <= max_bytes:
        # The declared size may be missing or wrong: the stream's own length is what gets parsed.
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
    if size > max_bytes:
        raise UploadTooLarge(f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes.", {"limit": max_bytes})
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        rest = stream.read(64)
        stream.seek(0)
        if not rest.strip(b"\xef\xbb\xbf \r\n\t"):
            raise ValidationFailed("The file is empty.")
    fmt = detect_format(filename, head)
    source = {"csv": _csv_rows, "jsonl": _jsonl_rows, "parquet": _parquet_rows}[fmt](stream, options)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".ingest-", suffix=".jsonl")
    tmp = Path(tmp_name)
    digest, counts, seen = hashlib.sha256(), Counter(), set()
    rows = short = duplicates = labelled = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for line, raw_text, raw_label, raw_extra in source:
                if not isinstance(raw_text, str):
                    raise ValidationFailed(f"Line {line}: the text must be a string.", {"line": line})
                if raw_label is not None and (isinstance(raw_label, bool) or not isinstance(raw_label, (str, int))):
                    raise ValidationFailed(f"Line {line}: the label must be a string.", {"line": line})
                body = raw_text.strip()
                label = str(raw_label).strip() if raw_label is not None else ""
                if "\x00" in body or "\x00" in label:  # PostgreSQL text cannot hold one (labels are stored)
                    raise ValidationFailed(f"Line {line}: a NUL character in the text or label.", {"line": line})
                if not body:
                    raise ValidationFailed(f"Line {line}: the text is empty.", {"line": line})
                if not label and options.require_labels:
                    raise ValidationFailed(f"Line {line}: the label is empty.", {"line": line})
                rows += 1
                if rows > options.max_rows:
                    raise ValidationFailed(f"The file has more than {options.max_rows:,} rows, the limit.",
                                           {"limit": options.max_rows})
                short += len(body) < SHORT_TEXT
                key = hashlib.blake2b(f"{body}\x00{label}".encode(), digest_size=12).digest()
                duplicates += key in seen
                seen.add(key)
                record = {"text": body, "label": label} if label else {"text": body}
                if meta := _meta(raw_extra):
                    record["meta"] = meta
                if label:
                    counts[label] += 1
                    labelled += 1
                encoded = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode()
                digest.update(encoded)
                out.write(encoded)
        if rows == 0:
            raise ValidationFailed("The file has a header but no rows.")
        if options.require_labels and len(counts) < 2:
            only = next(iter(counts))
            raise ValidationFailed(f"Every row has the label {only!r}: a classifier needs at least two classes.")
        if 0 < labelled < rows and options.require_labels:
            raise ValidationFailed("Some rows have no label.")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    warnings = []
    if short:
        warnings.append(f"{short} text(s) shorter than {SHORT_TEXT} characters.")
    if duplicates:
        warnings.append(f"{duplicates} exact duplicate row(s).")
    if small := sorted(label for label, n in counts.items() if n < options.min_class_rows):
        warnings.append(f"{len(small)} class(es) with fewer than {options.min_class_rows} examples: {', '.join(small)}.")
    return Ingested(path=tmp, sha256=digest.hexdigest(), rows=rows, labels=sorted(counts),
                    label_counts=dict(sorted(counts.items())), labelled_rows=labelled, warnings=warnings)


class UploadLimit(FileUploadHandler):
    """First in a request's upload handlers: refuses a body whose declared length cannot fit the limit before
    reading any of it, and stops reading a file part once it passes the limit (the parser then closes and
    deletes what the other handlers had spooled). Call `check()` after the body is parsed."""

    FORM_ALLOWANCE = 64 * 1024  # the multipart framing and the small form fields sent with the file

    def __init__(self, max_bytes: int, request=None):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.exceeded = False

    def _refusal(self) -> UploadTooLarge:
        return UploadTooLarge(f"The file is over the limit of {self.max_bytes:,} bytes.", {"limit": self.max_bytes})

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.max_bytes + self.FORM_ALLOWANCE:
            raise self._refusal()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.max_bytes:
            self.exceeded = True
            raise StopUpload(connection_reset=True)  # do not read the rest of the body
        return raw_data

    def file_complete(self, file_size):
        return None

    def check(self) -> None:
        if self.exceeded:
            raise self._refusal()
