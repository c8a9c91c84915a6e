"""Play 5, evaluate against the baseline: the sign-off owner's play. Its evaluation job, report and
decisions arrive with their own issue; until then the gate explains that it cannot pass yet."""
from apps.playbook.plays import PlayModule


class EvaluateAgainstBaseline(PlayModule):
    number = 5
    keys = ("evaluation_job", "failure_analysis", "production_check", "recommendation")


PLAY = EvaluateAgainstBaseline()
