from dataclasses import dataclass

from apps.audit.hashing import GENESIS, event_hash
from apps.audit.models import AuditEvent


@dataclass
class ChainReport:
    checked: int
    broken_event_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_event_id is None


def verify_chain() -> ChainReport:
    """Walk the chain in order; report the first event whose hash or link does not hold."""
    expected_prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.pk, "its prev_hash does not match the event before it "
                               "(an event was removed or reordered)")
        if event_hash(event) != event.hash:
            return ChainReport(checked, event.pk, "its content does not match its hash (it was altered)")
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked)
