"""A real text-classification dataset the project does not generate: man-page one-line descriptions.

For every English manual page in ``/usr/share/man/man{1,2,3,5,8}`` (the localized subfolders such as
``/usr/share/man/de`` are not read) the ``.SH NAME`` line "name \\- description" is parsed from the gzip'd
troff source; the text is the description, the label is the manual section (the folder's number). Pages
that only redirect (``.so``) or have no NAME section are skipped, descriptions are deduplicated
(case-insensitively; a description found in two sections is dropped as ambiguous), those under three words
are dropped, the ~17,000 generated Google Cloud SDK pages (``gcloud_*``) are left out, and each section is capped at ``per_class`` rows by a seeded sample. Nothing is written to the
repository: the rows are rebuilt from the machine's pages on every call (about a second).

    .venv/bin/python -m bench.manpages            # prints per-section counts and a few rows
"""

from __future__ import annotations

import gzip
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")
SECTIONS = ("1", "2", "3", "5", "8")
# ~17,000 machine-generated pages of one CLI (the Google Cloud SDK, one per subcommand) would otherwise
# make up most of section 1 with templated descriptions; they are left out.
GENERATED_PREFIXES = ("gcloud_", "gcloud-", "bq_", "gsutil_")

_FONT = re.compile(r"\\f(\[[^\]]*\]|\(..|.)")  # \fB \fR \f(CW \f[I]
_SPECIAL = {r"\(em": "-", r"\(en": "-", r"\(aq": "'", r"\(dq": '"', r"\(lq": '"', r"\(rq": '"',
            r"\(oq": "'", r"\(cq": "'", r"\(co": "(c)", r"\(bu": "-", r"\e": "\\", r"\&": "", r"\ ": " ",
            r"\-": "-", r"\|": "", r"\^": "", r"\%": "", r"\:": "", r"\/": "", r"\,": "", r"\~": " "}
_ANY_ESCAPE = re.compile(r"\\(\(..|\[[^\]]*\]|\*\(..|\*\[[^\]]*\]|\*.|.)")


def _clean(line: str) -> str:
    line = _FONT.sub("", line)
    for escape, text in _SPECIAL.items():
        line = line.replace(escape, text)
    line = _ANY_ESCAPE.sub("", line)
    return " ".join(line.split())


def name_description(source: str) -> str | None:
    """The description of a page's NAME section ("name \\- description"), or None."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if re.match(r'^\.S[Hh]\s+"?NAME"?\s*$', line.strip()):
            body = []
            for nxt in lines[i + 1 : i + 12]:
                if nxt.startswith((".SH", ".Sh")):
                    break
                if nxt.startswith(('.\\"', "'\\\"")):
                    continue
                if nxt.startswith(".") and not nxt.startswith((".B ", ".I ", ".BR ", ".IR ", ".Nm", ".Nd")):
                    continue
                if nxt.startswith(".Nd "):
                    body.append("\\- " + nxt[4:])
                    continue
                body.append(re.sub(r"^\.(B|I|BR|IR|Nm)\s+", "", nxt))
            text = " ".join(body)
            if "\\-" not in text and " - " not in text:
                return None
            desc = re.split(r"\\-|\s-\s", text, maxsplit=1)[1]
            desc = _clean(desc).strip(" .")
            return desc or None
    return None


def _read(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def build(*, per_class: int = 400, seed: int = 0, min_words: int = 3, root: Path = MAN_ROOT) -> list[dict[str, str]]:
    """Rows {"text", "label", "page"}: deduplicated NAME descriptions, label = manual section, seeded cap."""
    by_text: dict[str, set[str]] = defaultdict(set)
    first: dict[str, tuple[str, str]] = {}
    for section in SECTIONS:
        folder = root / f"man{section}"
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.is_symlink() or path.name.startswith(GENERATED_PREFIXES):
                continue
            try:
                source = _read(path)
            except OSError:
                continue
            if source.lstrip().startswith(".so "):
                continue
            desc = name_description(source)
            if desc is None or len(desc.split()) < min_words:
                continue
            key = desc.lower()
            by_text[key].add(section)
            first.setdefault(key, (desc, path.name))
    per_section: dict[str, list[dict[str, str]]] = defaultdict(list)
    for key, sections in sorted(by_text.items()):
        if len(sections) != 1:
            continue  # the same description in two sections cannot be labelled
        desc, page = first[key]
        per_section[next(iter(sections))].append({"text": desc, "label": f"man{next(iter(sections))}", "page": page})
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for section in SECTIONS:
        candidates = per_section.get(section, [])
        rows.extend(rng.sample(candidates, per_class) if len(candidates) > per_class else candidates)
    rng.shuffle(rows)
    return rows


if __name__ == "__main__":
    built = build()
    print(len(built), dict(sorted(Counter(r["label"] for r in built).items())))
    for row in built[:8]:
        print(row)
