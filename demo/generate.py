"""Seeded demo data: help-desk tickets of a small SaaS company, in seven intent classes.

``generate`` returns two labelled samples:

* the *baseline sample* (~2,000 rows): e-mail-style tickets of one to a few sentences. Each intent is written
  in ~190-210 hand-written paraphrases per class, drawn deck-style so a wording rarely repeats, then varied
  further by slot fillers and phrase-level synonyms. Classes share everyday vocabulary (account, workspace,
  invoice, export, delete); ~6% of tickets mix two intents and ~2% carry a wrong label, as real exports do;
* the *production sample* (~400 rows) has drifted: short chat messages with slang, abbreviations and typos,
  more mixed-topic messages and a different class mix (more access trouble, fewer feature ideas).

Why it is built this way: the demo tells the Play 1 -> Play 2 story honestly. Because a given wording is
seldom seen twice, a bag of words (TF-IDF + logistic regression) lands around 0.77 macro-F1 in 5-fold CV,
short of a sensible target, while a frozen sentence encoder (all-MiniLM-L6-v2, mean-pooled, linear probe)
recognises paraphrases and scores about 6 points higher; on the drifted production sample the gap widens.

The text lives in ``demo/corpus/`` as plain JSON; this module holds only the mixes, rates and the recipe:

* ``intents/<label>.json``: the e-mail intent sentences of one class (paraphrases that share few content
  words; all classes lean on the same everyday nouns, so keywords alone do not settle the label);
* ``email.json``: openers, prefaces, context lines, joiners for two-intent tickets, class-specific asks
  (present in some tickets only, so they help without giving the label away), generic asks and closers;
* ``chat.json``: production chat messages per class (shorter, informal, partly different vocabulary),
  their openers, joiners, tails and the shorthand production users type (applied word by word);
* ``slots.json``: the values of ``{slot}`` fillers;
* ``paraphrases.json``: phrase-level paraphrases applied to intent sentences after filling, in order, as
  (regular expression, alternatives); alternatives may use ``\\1`` for a captured group. They make two
  tickets built from one template share fewer words, as two people describing one problem do.

Template syntax: ``[a|b|]`` picks one alternative (possibly empty), ``{slot}`` draws from the slots and
``{slot_cap}`` does the same with a capital first letter. Order matters everywhere: the RNG draws by
position, so reordering or editing the corpus changes the generated rows (``tests/unit/test_demo_data.py``
pins a fingerprint of them, so such a change is made on purpose).

All text is original and synthetic; people are referred to only by role ("my manager").
Randomness comes from ``random.Random`` instances seeded from ``seed``; the global RNG is never touched.
"""
from __future__ import annotations

import csv
import json
import pathlib
import random
import re

Row = dict[str, str]

CORPUS_DIR = pathlib.Path(__file__).parent / "corpus"

LABELS: list[str] = [
    "account_cancellation",
    "billing",
    "bug_report",
    "data_privacy",
    "feature_request",
    "how_to",
    "login_access",
]

SAMPLE_MIX = {
    "account_cancellation": 0.10,
    "billing": 0.19,
    "bug_report": 0.18,
    "data_privacy": 0.10,
    "feature_request": 0.12,
    "how_to": 0.14,
    "login_access": 0.17,
}
# Production has drifted: a sign-in change brought more access trouble; feature ideas go elsewhere now.
PRODUCTION_MIX = {
    "account_cancellation": 0.12,
    "billing": 0.13,
    "bug_report": 0.22,
    "data_privacy": 0.06,
    "feature_request": 0.07,
    "how_to": 0.15,
    "login_access": 0.25,
}
LABEL_NOISE = 0.02
SAMPLE_MIXED_SHARE = 0.06
PRODUCTION_MIXED_SHARE = 0.14

# How often each optional part appears in a sample ticket (probabilities).
EMAIL_STYLE = {
    "opener": 0.55,
    "preface": 0.2,
    "context": 0.3,
    "restate": 0.05,
    "class_ask": 0.05,
    "generic_ask": 0.3,
    "closer": 0.5,
    "typos": 0.2,
    "typo_rate": 0.06,
    "lowercase": 0.05,
}


def _load(name: str):
    with (CORPUS_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)


SLOTS: dict[str, list[str]] = _load("slots.json")
EMAIL: dict = _load("email.json")
CHAT_PARTS: dict = _load("chat.json")
CORE: dict[str, list[str]] = {label: _load(f"intents/{label}.json") for label in LABELS}
ASKS: dict[str, list[str]] = EMAIL["class_asks"]
CHAT: dict[str, list[str]] = CHAT_PARTS["intents"]
ABBREVIATIONS: dict[str, str] = CHAT_PARTS["abbreviations"]
PARAPHRASES: list[tuple[str, list[str]]] = [
    (entry["pattern"], entry["alternatives"]) for entry in _load("paraphrases.json")
]
_PARAPHRASES = [(re.compile(pattern), alternatives) for pattern, alternatives in PARAPHRASES]
if not set(LABELS) == set(ASKS) == set(CHAT):
    raise ValueError(f"demo corpus: class asks and chat intents must cover exactly {LABELS}")


def _paraphrase(text: str, rng: random.Random) -> str:
    """Swap phrases for equivalents; a replaced span is never rewritten again by a later pattern."""
    chosen: list[str] = []

    def swap(match: re.Match[str], alternatives: list[str]) -> str:
        chosen.append(match.expand(rng.choice(alternatives)))
        return f"\x00{len(chosen) - 1}\x00"

    for pattern, alternatives in _PARAPHRASES:
        text = pattern.sub(lambda m: swap(m, alternatives), text)
    return re.sub(r"\x00(\d+)\x00", lambda m: chosen[int(m.group(1))], text)


_ALTERNATION = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random) -> str:
    """Expand "[a|b]" alternations and "{slot}" placeholders, then tidy spacing."""
    text = _ALTERNATION.sub(lambda m: rng.choice(m.group(1).split("|")), template)

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        capital = name.endswith("_cap")
        value = rng.choice(SLOTS[name.removesuffix("_cap")])
        return value[:1].upper() + value[1:] if capital else value

    text = _SLOT.sub(slot, text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = text.strip()
    return text[:1].upper() + text[1:]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap neighbours
    if kind < 0.7:
        return word[:i] + word[i + 1 :]  # drop a letter
    return word[:i] + word[i] + word[i:]  # double a letter


def _chattify(text: str, rng: random.Random, typo_rate: float = 0.07) -> str:
    """Turn a sentence into chat shorthand: lower case, abbreviations, typos, little punctuation."""
    words = []
    for word in text.lower().replace(",", "").rstrip(".?!").split():
        word = ABBREVIATIONS.get(word, word) if rng.random() < 0.7 else word
        words.append(_typo(word, rng) if rng.random() < typo_rate else word)
    return " ".join(words)


class _Deck:
    """Draws items without replacement and reshuffles when empty, so every wording gets used evenly.

    Drawing with replacement would repeat some templates many times; real tickets rarely repeat wording.
    """

    def __init__(self, items: list[str], rng: random.Random) -> None:
        self._items, self._rng = items, rng
        self._pending: list[str] = []

    def draw(self) -> str:
        if not self._pending:
            self._pending = list(self._items)
            self._rng.shuffle(self._pending)
        return self._pending.pop()


class _Composer:
    """Writes e-mail tickets (sample) and chat messages (production) from one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.core = {label: _Deck(CORE[label], rng) for label in LABELS}
        self.chat = {label: _Deck(CHAT[label], rng) for label in LABELS}

    def intent(self, label: str) -> str:
        return _paraphrase(_fill(self.core[label].draw(), self.rng), self.rng)

    def email(self, label: str, mixed_with: str | None = None) -> str:
        """Optional greeting and context, the intent, an optional ask and sign-off."""
        rng, style = self.rng, EMAIL_STYLE
        parts: list[str] = []
        if rng.random() < style["opener"]:
            parts.append(rng.choice(EMAIL["openers"]))
        if rng.random() < style["preface"]:
            parts.append(_fill(rng.choice(EMAIL["prefaces"]), rng))
        if rng.random() < style["context"]:
            parts.append(_fill(rng.choice(EMAIL["context"]), rng))
        parts.append(self.intent(label))
        if mixed_with is not None:
            parts.append(rng.choice(EMAIL["mixed_joiners"]))
            parts.append(self.intent(mixed_with))
        elif rng.random() < style["restate"]:
            # A second paraphrase of the same intent, as people restate their problem.
            parts.append(self.intent(label))
        roll = rng.random()
        if roll < style["class_ask"]:
            parts.append(_fill(rng.choice(ASKS[label]), rng))
        elif roll < style["class_ask"] + style["generic_ask"]:
            parts.append(rng.choice(EMAIL["generic_asks"]))
        if rng.random() < style["closer"]:
            parts.append(rng.choice(EMAIL["closers"]))
        text = " ".join(part for part in parts if part)
        if rng.random() < style["typos"]:
            # Tickets typed in a hurry: a few slips of the finger.
            text = " ".join(_typo(w, rng) if rng.random() < style["typo_rate"] else w for w in text.split())
        if rng.random() < style["lowercase"]:
            text = text.lower()
        return text

    def chat_intent(self, label: str) -> str:
        if self.rng.random() < 0.3:
            # Some chat users still describe the problem the way e-mail tickets do, only shorter and sloppier.
            return _chattify(self.intent(label), self.rng)
        return _chattify(_fill(self.chat[label].draw(), self.rng), self.rng, typo_rate=0.05)

    def chat_message(self, label: str, mixed_with: str | None = None) -> str:
        rng = self.rng
        parts = [rng.choice(CHAT_PARTS["openers"]), self.chat_intent(label)]
        if mixed_with is not None:
            parts += [rng.choice(CHAT_PARTS["joiners"]), self.chat_intent(mixed_with)]
        parts.append(rng.choice(CHAT_PARTS["tails"]))
        return " ".join(part for part in parts if part).replace(" , ", ", ").strip()


def _other_label(label: str, rng: random.Random) -> str:
    return rng.choice([other for other in LABELS if other != label])


def _allocate(total: int, mix: dict[str, float]) -> dict[str, int]:
    """Split ``total`` rows by ``mix`` (largest remainder); every label gets a row when total allows."""
    raw = {label: total * share / sum(mix.values()) for label, share in mix.items()}
    counts = {label: int(value) for label, value in raw.items()}
    by_remainder = sorted(mix, key=lambda label: (-(raw[label] - counts[label]), label))
    for label in by_remainder[: total - sum(counts.values())]:
        counts[label] += 1
    if total >= len(mix):
        for label in mix:
            if counts[label] == 0:
                donor = max(counts, key=lambda other: (counts[other], other))
                counts[donor] -= 1
                counts[label] = 1
    return counts


def _rows(
    total: int,
    mix: dict[str, float],
    mixed_share: float,
    rng: random.Random,
    *,
    chat: bool,
    clean_labels: bool = False,
) -> list[Row]:
    composer = _Composer(rng)
    write = composer.chat_message if chat else composer.email
    rows: list[Row] = []
    for label, count in _allocate(total, mix).items():
        for _ in range(count):
            if rng.random() < mixed_share:
                # Two intents in one message: the label is the one the annotator judged primary,
                # usually but not always the first mentioned, so these stay genuinely ambiguous.
                other = _other_label(label, rng)
                text = write(label, other) if rng.random() < 0.7 else write(other, label)
            else:
                text = write(label)
            noisy = rng.random() < LABEL_NOISE
            wrong = _other_label(label, rng) if noisy else label  # drawn either way: same texts, same stream
            rows.append({"text": text, "label": label if clean_labels else wrong})
    rng.shuffle(rows)
    return rows


def generate(
    seed: int = 7, rows: int = 2000, production_rows: int = 400, *, clean_labels: bool = False
) -> tuple[list[Row], list[Row]]:
    """Return (baseline sample, production sample) as lists of {"text", "label"}; deterministic per seed.

    The two samples come from separate RNG streams, so changing ``rows`` leaves the production sample alone.
    ``clean_labels`` gives the same rows with the intended label where the annotator slipped (the
    ``LABEL_NOISE`` share), for experiments that need to know every wrong label.
    """
    sample_rng = random.Random(f"sample-{seed}")
    production_rng = random.Random(f"production-{seed}")
    sample = _rows(rows, SAMPLE_MIX, SAMPLE_MIXED_SHARE, sample_rng, chat=False, clean_labels=clean_labels)
    production = _rows(
        production_rows, PRODUCTION_MIX, PRODUCTION_MIXED_SHARE, production_rng, chat=True, clean_labels=clean_labels
    )
    return sample, production


def _write_csv(path: pathlib.Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)


def write_demo_files(directory: pathlib.Path, seed: int = 7) -> dict[str, pathlib.Path]:
    """Write support_tickets.csv and production_sample.csv (header text,label) into ``directory``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sample, production = generate(seed=seed)
    paths = {"sample": directory / "support_tickets.csv", "production": directory / "production_sample.csv"}
    _write_csv(paths["sample"], sample)
    _write_csv(paths["production"], production)
    return paths
