"""What a play module declares for each kind of job it runs, and what a runner hands back."""
from dataclasses import dataclass, field
from typing import Callable

GPU = "gpu"  # training and anything that runs an encoder over many rows
DEFAULT = "default"  # light work


class JobInputError(Exception):
    """The job's inputs do not allow it to run (the message says why); it fails without retry."""


@dataclass
class ArtifactFile:
    """A file (or a directory with a manifest) a job wrote under the data folder, hashed when written."""

    kind: str
    path: str
    sha256: str
    label: str = ""
    size_bytes: int | None = None  # when the path stands for more than one file (a manifest), their total


@dataclass
class JobOutcome:
    """A runner's result. `record` runs inside the transaction that marks the job succeeded: it is where
    the play module writes the job's evidence into its gate record, so both commit together."""

    result: dict
    artifacts: list[ArtifactFile] = field(default_factory=list)
    record: Callable | None = None  # record(job) -> None


@dataclass(frozen=True)
class JobKind:
    """A kind of job a play module runs.

    clean(subject, params) -> the checked params (raises ValidationFailed), run before anything is queued;
    run(job, report) -> JobOutcome, on the worker; report(step, metrics, progress, message="").
    ``subject`` names what the job works on: "play" (the play itself) or another model ("dataset").
    """

    name: str
    label: str
    run: Callable
    clean: Callable
    queue: str = DEFAULT
    subject: str = "play"
    charted: bool = False  # its metric points draw training curves on the page
    # on_failure(job, error): runs inside the transaction that fails (or cancels) the job, so the subject
    # shows the failure too (a label audit whose sample could not be prepared, say).
    on_failure: Callable | None = None
    # A record of a decision already taken (Play 5's sign-off record): it never holds up the play's work,
    # its submission or a retrain.
    bookkeeping: bool = False
