"""Shared fixtures: tiny randomly initialised BERT encoders saved to disk with a hand-written WordPiece vocab.

Nothing is downloaded: the vocabulary below is written to vocab.txt, a BertTokenizerFast is built from it,
and a BertModel (hidden 32, 2 heads, intermediate 37) is saved with save_pretrained, so load_encoder reads
it from a local directory like any real model.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from workers.engine.data import Split, TrainingData
from workers.engine.encoders import Encoder, load_encoder


def _words(text: str) -> list[str]:
    return text.split()


SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABEL_WORDS = {
    "login_access": _words("login password reset account locked access sign code username email"),
    "billing": _words("invoice charge refund card payment bill billing price paid receipt"),
    "shipping": _words("package delivery shipped shipping tracking box courier arrived parcel address"),
}
SHARED_WORDS = _words(
    "the a my i is was not can cannot please help why to and it with for on of again today still need did "
    "get have this no yes you your me we order hello thanks urgent week now when where how what there been "
    "just very too one two three new old first last time day month back up out by from at"
)
PUNCT_AND_PIECES = [".", ",", "?", "!", "'", "-", ":", "##s", "##ed", "##ing", "##ly", "##er", "##est"]
VOCAB = SPECIAL + [w for words in LABEL_WORDS.values() for w in words] + SHARED_WORDS + PUNCT_AND_PIECES
LABEL_NAMES = list(LABEL_WORDS)


def make_texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` short synthetic support tickets, labels cycling through LABEL_NAMES, lengths 4-12 words."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = LABEL_NAMES[i % len(LABEL_NAMES)]
        words = rng.sample(LABEL_WORDS[label], rng.randint(1, 3)) + rng.sample(
            SHARED_WORDS, rng.randint(3, 9)
        )
        rng.shuffle(words)
        texts.append(" ".join(words) + rng.choice([".", "?", "!"]))
        labels.append(label)
    return texts, labels


def planted_flips(
    *, seed: int = 7, rows: int = 1000, flips: int = 50, clean_labels: bool = False
) -> tuple[list[str], list[str], list[str], set[int]]:
    """Demo tickets with ``flips`` labels flipped to another class (seeded): (texts, truth, noisy, flipped rows).

    ``clean_labels`` starts from the intended labels, so the flips are the only wrong ones.
    """
    from demo.generate import LABELS, generate

    sample, _ = generate(seed=seed, rows=rows, production_rows=10, clean_labels=clean_labels)
    texts, truth = [r["text"] for r in sample], [r["label"] for r in sample]
    rng = random.Random(f"flips-{seed}")
    flipped = set(rng.sample(range(len(truth)), flips))
    noisy = list(truth)
    for i in sorted(flipped):
        noisy[i] = rng.choice([label for label in LABELS if label != truth[i]])
    return texts, truth, noisy, flipped


def build_tiny_bert(directory: Path, *, layers: int, seed: int) -> Path:
    """Write vocab.txt, tokenizer and a random BertModel into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-layer tiny BERT: layer groups = 3 blocks + embeddings, i.e. unfreezing stages 1..4."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert-3l"), layers=3, seed=0)


@pytest.fixture(scope="session")
def tiny_bert_2l_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, 2-layer tiny BERT with different random weights (the other bake-off candidate)."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert-2l"), layers=2, seed=1)


@pytest.fixture()
def encoder(tiny_bert_dir: Path) -> Encoder:
    """A freshly loaded tiny encoder on CPU (tests may train it)."""
    return load_encoder(str(tiny_bert_dir), device="cpu")


@pytest.fixture(scope="session")
def training_data() -> TrainingData:
    """48 train / 24 validation synthetic tickets over three labels."""
    train_texts, train_labels = make_texts(48, seed=1)
    val_texts, val_labels = make_texts(24, seed=2)
    return TrainingData(
        train=Split(train_texts, train_labels),
        val=Split(val_texts, val_labels),
        label_names=list(LABEL_NAMES),
    )


@pytest.fixture(scope="session")
def tickets() -> Callable[[int, int], tuple[list[str], list[str]]]:
    """``make_texts`` as a fixture, so test modules need not import this conftest."""
    return make_texts


@pytest.fixture()
def settings() -> SimpleNamespace:
    """A stand-in for pytest-django's ``settings``: the engine is Django-free, and so are its tests.

    Autouse fixtures in the parent conftests tweak Django settings for every test; here they get this
    namespace instead, so these tests run the same with the Django plugin active or with ``-p no:django``.
    """
    return SimpleNamespace()


@pytest.fixture(scope="package", autouse=True)
def _single_torch_thread() -> Iterator[None]:
    """One intra-op thread: the tiny models gain nothing from more, and on a busy 2-core host OpenMP threads
    spinning against each other made the suite ~5x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture()
def scratch(tmp_path: Path) -> Path:
    """An empty directory of the test's own (parent autouse fixtures may put things in tmp_path itself)."""
    path = tmp_path / "engine-scratch"
    path.mkdir()
    return path
