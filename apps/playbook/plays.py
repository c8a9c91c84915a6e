"""What every play module provides, and the pieces they share.

A play lives in the app that owns its domain (Plays 1, 2 and 4 in apps.training, Play 3 in apps.datasets,
Play 5 in apps.evaluation, Play 6 in apps.monitoring), as one module exposing ``PLAY``, an instance of a
PlayModule subclass. The core reaches it through apps.core.registry and imports none of them.

A module declares:
- ``keys``: the deliverable's fields; ``clean(play, updates)`` validates a (partial) draft. Empty means
  none, never a crash; a stored deliverable can never break a page.
- ``checks(play)``: the gate's automatic checks, each with pass/fail, whether it blocks, and evidence.
- ``decisions(play)``: the decisions the gate offers now, each with the reason it is unavailable ("" when
  available), and ``outcomes``: what each decision does, which the core applies (advance to the next
  play, close the project with the baseline, or send the work back to this play or an earlier one).
- ``conflict_of_interest(play, user)``: why ``user`` may not decide this gate (by default: they submitted
  it; Play 5: they trained the candidate), and ``approvals_needed(play, decision)``.
- ``job_kinds``: the kinds of job it runs (apps.jobs.kinds.JobKind), with their parameter checks and
  runners.
- ``workspace_template`` / ``evidence_template`` and ``workspace(request, play)``: its page.
- ``Outputs`` and ``outputs(play)``: the typed hand-off frozen on the GateDecision when the gate approves,
  read by later plays (and later cycles) through apps.playbook.selectors.cycle_inputs.
"""
from dataclasses import asdict, dataclass, field

from apps.core.errors import FieldErrors, ValidationFailed


ADVANCE = "advance"  # the play is approved and the next one unlocks
CLOSE_WITH_BASELINE = "close_with_baseline"  # the project closes by shipping the baseline
SEND_BACK = "send_back"  # the work goes back: to this play, or to an earlier one (and the plays after it lock)
CLOSE_CYCLE = "close_cycle"  # the cycle ends here and the project goes on (a retrain keeps the model in production)


@dataclass(frozen=True)
class Outcome:
    """What a gate decision does to the cycle."""

    effect: str
    back_to: int | None = None  # SEND_BACK: the play that reworks (None: this play)
    needs_reason: bool = False
    hands_on: bool = False  # the play's Outputs are frozen on the decision (approvals, shipping a baseline)


@dataclass(frozen=True)
class ProductionModel:
    """The model a project serves in production, as the play that deploys models (Play 6) reports it:
    what a retrain fine-tunes from and what the next evaluation measures the challenger against."""

    deployment: int
    package: int
    shipped: str  # "candidate" or "baseline"
    model: str  # the evaluation's name for it
    label_names: list
    checkpoint_job: int | None = None
    checkpoint_path: str | None = None
    checkpoint_sha256: str | None = None


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    passed: bool
    detail: str = ""
    blocking: bool = True
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class PlayModule:
    number: int
    keys: tuple[str, ...] = ()
    # Deliverable fields a form posts as several values (ticked boxes).
    list_keys: frozenset[str] = frozenset()
    # The deliverable field a dataset uploaded on the play's page fills in when it is empty (or None).
    upload_key: str | None = None
    job_kinds: dict = {}
    workspace_template: str = "playbook/_workspace_later.html"
    evidence_template: str = ""
    # The typed hand-off (a frozen dataclass) and its version; None for a play that hands nothing on.
    Outputs: type | None = None
    outputs_version: int = 1
    outcomes: dict[str, Outcome] = {
        "approve": Outcome(ADVANCE, hands_on=True),
        "reject": Outcome(SEND_BACK, needs_reason=True),
        "ship_baseline": Outcome(CLOSE_WITH_BASELINE, hands_on=True),
    }

    def clean(self, play, updates: dict) -> dict:
        if not isinstance(updates, dict):
            raise ValidationFailed("Send the deliverable as an object of field → value.")
        unknown = sorted(set(updates) - set(self.keys))
        if unknown:
            raise ValidationFailed(
                f"Play {self.number}'s deliverable has no field(s) {', '.join(unknown)}; "
                f"its fields are: {', '.join(self.keys)}."
            )
        return dict(updates)

    def checks(self, play) -> list[Check]:
        return [
            Check(
                "workspace",
                "This play's workspace and evidence",
                False,
                "The tools that produce this play's evidence are not available in this release yet.",
            )
        ]

    def verify(self, play) -> None:
        """Read and check the files the hand-off names against the hashes recorded when they were written
        (a use: called when the play is submitted, never to render a page, whose checks show the stored
        hashes); raise ValidationFailed when one is missing or altered."""

    def decisions(self, play) -> dict[str, str]:
        """The decisions the gate offers now, each with a reason when it is unavailable ("" = available)."""
        return {"approve": "", "reject": ""}

    # Modules the play's pages import when they first need them (kept out of the web process's start-up
    # imports); apps.core.warmup imports them as a gunicorn worker starts, so no visitor waits for them.
    page_imports: tuple[str, ...] = ()

    # How the page's buttons name the decisions (a module may say more, e.g. where approval leads).
    button_labels: dict[str, str] = {"approve": "Approve", "reject": "Reject",
                                     "ship_baseline": "Ship the baseline and close the project"}

    # Whether the person who submitted the play may also decide its gate (Play 5: the sign-off owner
    # answers and decides; independence there is from the training). Lists of gates waiting for someone
    # read it; conflict_of_interest is the rule itself.
    submitter_may_decide: bool = False

    def conflict_of_interest(self, play, user) -> str:
        """Why ``user`` may not decide this gate, as a fact about them ("You submitted this play."), or ""
        when they may: nobody decides on work they submitted. In solo mode the decider may go ahead after
        the recorded hat switch."""
        if play.submitted_by_id is not None and play.submitted_by_id == user.pk:
            return "You submitted this play."
        return ""

    def approvals_needed(self, play, decision: str) -> int:
        """How many distinct sign-off owners must take ``decision`` before it takes effect."""
        return 1

    def on_decided(self, play, record) -> None:
        """Called inside the decision's transaction once it took effect (Play 5 starts writing its
        sign-off record here)."""

    def on_unlock(self, play) -> None:
        """Called inside the transaction that makes the play ready: a play may start the system's own
        work here (Play 5 starts its evaluation), through apps.jobs.services.job_enqueue."""

    def production_model(self, project) -> "ProductionModel | None":
        """The model in production, for the play that deploys models; other plays have none to say."""
        return None

    def my_work(self, user) -> dict:
        """Extra lists for the user's My work page ({name: items}), such as audits waiting for them."""
        return {}

    def workspace(self, request, play) -> dict:
        """Extra context for the play's page."""
        return {}

    def outputs(self, play):
        """The hand-off to freeze when the gate approves (an instance of ``Outputs``), or None."""
        return None

    def outputs_for(self, play, decision: str):
        """The hand-off a decision that hands on (``Outcome.hands_on``) freezes; a play whose decisions
        hand on different things (Play 5: the candidate, or the baseline) tells them apart here."""
        return self.outputs(play)

    def load_outputs(self, data: dict, version: int):
        """Rebuild a stored hand-off. A module that changes its Outputs bumps ``outputs_version`` and
        upgrades older records here."""
        if self.Outputs is None:
            return None
        if version != self.outputs_version:
            raise ValueError(f"Play {self.number} outputs version {version} is not readable by version "
                             f"{self.outputs_version}")
        return self.Outputs(**data)


# Plain words for the fields and job settings that messages name (the key stays the field's name in the
# form, the API and the message's ``fields``); a key missing here reads with its underscores as spaces.
FIELD_NAMES = {
    "problem_statement": "the problem statement", "metric": "the metric", "direction": "the direction",
    "target": "the target", "min_margin": "the minimum margin over the baseline",
    "positive_label": "the positive label", "baseline_dataset": "the baseline dataset",
    "dataset": "the dataset", "audit": "the label audit", "evaluation": "the evaluation",
    "package": "the package", "live_metric_floor": "the live metric floor",
    "shortlist": "the shortlist", "chosen_candidate": "the chosen candidate", "candidates": "the candidates",
    "checkpoint_job": "the checkpoint's job", "folds": "the number of folds", "seed": "the random seed",
    "hidden": "the hidden layer size", "epochs": "the number of epochs", "patience": "the patience",
    "batch_size": "the batch size", "max_length": "the maximum text length (in tokens)",
    "lr": "the learning rate", "head_lr": "the head's learning rate", "lr_divisor": "the learning-rate divisor",
    "layer_decay": "the layer decay", "max_stages": "the number of unfreezing stages",
    "epochs_per_stage": "the epochs per stage", "noise_se": "the noise allowance (in standard errors)",
    "resamples": "the number of resamples", "timing_calls": "the number of timing calls",
    "permutations": "the number of permutations",
}


def plain(name: str) -> str:
    """A field or setting's name in plain words ("min_margin" → "the minimum margin over the baseline")."""
    if name in FIELD_NAMES:
        return FIELD_NAMES[name]
    head, _, tail = name.rpartition(".")
    words = tail.replace("_", " ")
    return f"{plain(head)}: {words}" if head else f"the {words}"


def _refuse(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={name: message})


def optional_id(value, name: str) -> int | None:
    """A deliverable's reference to another row: empty (None, "", whitespace) means none; anything but
    an id is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    found = stored_id(value)
    if found is None:
        raise _refuse(name, f"Choose {plain(name)} from the list ({value!r} is not one).")
    return found


def stored_id(value) -> int | None:
    """A database id from a stored or submitted value: a positive whole number (or its digits as text);
    None for anything else (empty, junk, a bool, a fraction, a number too large for a key), so an older
    draft holding "" or junk reads as nothing chosen instead of breaking a page."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdecimal() or not value.isascii():
            return None
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def number_value(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(str(value).strip())
        except ValueError:
            raise _refuse(name, f"Give {plain(name)} as a number, e.g. 0.85 ({value!r} is not a number).") from None
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise _refuse(name, f"Give {plain(name)} as an ordinary number, not infinity or NaN.")
    return value


def id_list(value, name: str) -> list[int]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, (list, tuple)):
        raise _refuse(name, f"Give {plain(name)} as a list of candidate numbers, e.g. 3 7.")
    try:
        ids = [int(v) for v in value]
    except (TypeError, ValueError):
        raise _refuse(name, f"Give {plain(name)} as a list of candidate numbers, e.g. 3 7.") from None
    if len(set(ids)) != len(ids):
        raise _refuse(name, f"Name each candidate once in {plain(name)}.")
    return ids


def int_param(params: dict, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(name, f"Give {plain(name)} as a whole number from {low:,} to {high:,}.")
    if not low <= value <= high:
        raise _refuse(name, f"Give {plain(name)} as a whole number from {low:,} to {high:,} (not {value:,}).")
    return value


def int_params(params: dict, bounds: dict[str, tuple[int, int, int]]) -> dict:
    """Several whole-number settings ({name: (default, low, high)}), every bad one refused at once."""
    errors, out = FieldErrors(), {}
    for name, (default, low, high) in bounds.items():
        with errors.on(name):
            out[name] = int_param(params, name, default, low, high)
    errors.raise_if_any()
    return out


def float_param(params: dict, name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _refuse(name, f"Give {plain(name)} as a number from {low:g} to {high:g}.")
    if not low <= value <= high:
        raise _refuse(name, f"Give {plain(name)} as a number from {low:g} to {high:g} (not {value:g}).")
    return float(value)


def reject_unknown(params: dict, allowed: set, kind: str) -> None:
    if unknown := sorted(set(params) - allowed):
        raise ValidationFailed(f"A {kind.replace('_', ' ')} job does not take the setting(s) {', '.join(unknown)}; "
                               f"it takes: {', '.join(sorted(allowed))}.")
