"""The six plays, as the playbook article's table gives them: title, trigger, accountable owner."""
from dataclasses import dataclass

from apps.accounts.models import Role


@dataclass(frozen=True)
class PlayDefinition:
    number: int
    title: str
    trigger: str
    owner_role: str
    # Play 6 is owned by the model owner "with the data owner on monitoring": both may work on it.
    co_owner_role: str | None = None
    summary: str = ""

    @property
    def working_roles(self) -> tuple[str, ...]:
        return (self.owner_role,) + ((self.co_owner_role,) if self.co_owner_role else ())


PLAYS: dict[int, PlayDefinition] = {
    1: PlayDefinition(
        1, "Scope and baseline", "Request received", Role.MODEL_OWNER,
        summary="A problem statement, a target metric with its threshold, and a measured baseline number.",
    ),
    2: PlayDefinition(
        2, "Choose base model", "Baseline insufficient", Role.MODEL_OWNER,
        summary="Two or three candidates compared as frozen feature extractors on a validation slice.",
    ),
    3: PlayDefinition(
        3, "Build data pipeline", "Base selected", Role.DATA_OWNER,
        summary="Audited labels, fixed splits, a production-like test set, class balance understood.",
    ),
    4: PlayDefinition(
        4, "Freeze then unfreeze", "Data validated", Role.MODEL_OWNER,
        summary="A fresh head on a frozen base; unfreeze top-down at a lower learning rate if short of target.",
    ),
    5: PlayDefinition(
        5, "Evaluate vs baseline", "Candidate trained", Role.SIGNOFF_OWNER,
        summary="The delta over baseline on the held-out test set, where it fails, whether it holds on production.",
    ),
    6: PlayDefinition(
        6, "Package and monitor", "Model approved", Role.MODEL_OWNER, co_owner_role=Role.DATA_OWNER,
        summary="Ship, watch input drift and the live metric, retrain from the checkpoint when a threshold trips.",
    ),
}
