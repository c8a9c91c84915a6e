"""Play 6, package, monitor and retrain: packaging, deployments, drift checks and the retrain trigger
(apps.playbook.services.cycle_open_retrain) arrive with their own issue; until then the gate explains
that it cannot pass yet."""
from apps.playbook.plays import PlayModule


class PackageAndMonitor(PlayModule):
    number = 6
    keys = ("package", "drift_threshold", "live_metric_threshold", "monitoring_note")


PLAY = PackageAndMonitor()
