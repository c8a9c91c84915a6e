"""Play 6, package, monitor and retrain: the model and data owners' play.

When Play 5 hands a model on (the approved candidate, or the baseline it chose to ship), the system starts
a package job: the model in standard formats with its ONNX variants and their parity on the sealed test
split, the model card, the monitoring reference and the lineage, every file hashed. The model owner deploys
the package as the challenger; a sign-off owner promotes it to production. The owners set the live-metric
floor and the drift thresholds the monitor judges production windows by; a breach of the floor opens the
next cycle (apps.playbook.services.cycle_open_retrain), which fine-tunes from the production checkpoint.
"""
from apps.core.errors import ApplicationError, ValidationFailed
from apps.jobs.kinds import GPU, JobKind
from apps.monitoring import monitor, packaging_job
from apps.playbook.plays import Check, PlayModule, number_value, optional_id, stored_id

POLICY_KEYS = {"min_window", "persistence", "lookback", "cooldown_windows", "alpha"}


def _models():
    from apps.monitoring.models import Deployment, Package

    return Package, Deployment


class PackageAndMonitor(PlayModule):
    number = 6
    keys = ("package", "live_metric_floor", "drift_thresholds", "alert_policy", "monitoring_note")
    workspace_template = "monitoring/_play6_workspace.html"
    job_kinds = {
        "package": JobKind("package", "Package the approved model", run=packaging_job.run_package,
                           clean=packaging_job.package_params, queue=GPU),
        # Started by beat on each closed window of production predictions (the system is the actor).
        "drift_check": JobKind("drift_check", "Drift check of a production window", run=monitor.run_drift_check,
                               clean=monitor.drift_check_params, queue=GPU, subject="deployment"),
    }

    # --- the deliverable ---------------------------------------------------------------------------

    def clean(self, play, updates: dict) -> dict:
        from workers.engine.drift import AlertPolicy

        data = super().clean(play, updates)
        Package, _ = _models()
        if "package" in data:
            package_id = optional_id(data["package"], "package")
            if package_id is not None and not Package.objects.filter(pk=package_id, play=play).exists():
                raise ValidationFailed(f"Package {package_id} is not a package of this play.")
            data["package"] = package_id
        if "live_metric_floor" in data:
            value = data["live_metric_floor"]
            data["live_metric_floor"] = None if value in (None, "") else number_value(value, "live_metric_floor")
            if data["live_metric_floor"] is not None and not 0 <= data["live_metric_floor"] <= 1:
                raise ValidationFailed("live_metric_floor must be between 0 and 1 (the committed metric's scale)")
        if "drift_thresholds" in data:
            thresholds = data["drift_thresholds"] or {}
            if not isinstance(thresholds, dict):
                raise ValidationFailed("drift_thresholds must be an object of signal → threshold")
            known = set(AlertPolicy().thresholds)
            if unknown := sorted(set(thresholds) - known):
                raise ValidationFailed(f"Unknown drift signal(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
            data["drift_thresholds"] = {k: number_value(v, f"drift_thresholds.{k}") for k, v in thresholds.items()}
        if "alert_policy" in data:
            policy = data["alert_policy"] or {}
            if not isinstance(policy, dict):
                raise ValidationFailed("alert_policy must be an object")
            if unknown := sorted(set(policy) - POLICY_KEYS):
                raise ValidationFailed(f"Unknown alert_policy field(s): {', '.join(unknown)} "
                                       f"(allowed: {', '.join(sorted(POLICY_KEYS))})")
            cleaned = {}
            for key, value in policy.items():
                number = number_value(value, f"alert_policy.{key}")
                if key == "alpha":
                    if not 0 < number < 0.5:
                        raise ValidationFailed("alert_policy.alpha must be between 0 and 0.5")
                    cleaned[key] = number
                else:
                    if number != int(number) or not 1 <= number <= 100_000:
                        raise ValidationFailed(f"alert_policy.{key} must be a whole number from 1 to 100,000")
                    cleaned[key] = int(number)
            if cleaned.get("persistence", 1) > cleaned.get("lookback", max(3, cleaned.get("persistence", 1))):
                raise ValidationFailed("alert_policy.persistence cannot exceed alert_policy.lookback")
            data["alert_policy"] = cleaned
        if "monitoring_note" in data:
            note = data["monitoring_note"] or ""
            if not isinstance(note, str) or len(note) > 5000:
                raise ValidationFailed("monitoring_note must be text of up to 5,000 characters")
            data["monitoring_note"] = note.strip()
        return data

    def alert_policy(self, play):
        """The AlertPolicy the monitor applies: the engine's defaults, the owners' thresholds and policy,
        and the live-metric floor (Play 1's target unless the owners set another)."""
        from apps.playbook.selectors import cycle_inputs
        from workers.engine.drift import AlertPolicy

        d = play.deliverable
        defaults = AlertPolicy()
        floor = d.get("live_metric_floor")
        if floor is None:
            inputs = cycle_inputs(play.cycle)
            floor = inputs[1].target if 1 in inputs else None
        return AlertPolicy(thresholds={**defaults.thresholds, **(d.get("drift_thresholds") or {})},
                           performance_floor=floor, **(d.get("alert_policy") or {}))

    # --- the gate ----------------------------------------------------------------------------------

    def chosen(self, play):
        Package, _ = _models()
        package_id = stored_id(play.deliverable.get("package"))
        return Package.objects.filter(pk=package_id, play=play).first() if package_id else None

    def checks(self, play) -> list[Check]:
        from apps.core import storage

        Package, Deployment = _models()
        package = self.chosen(play)
        checks = []
        intact = False
        if package is not None:
            manifest = storage.absolute(package.path) / "manifest.json"
            intact = manifest.exists() and storage.file_sha256(manifest) == package.sha256
        checks.append(Check("package", "The approved model is packaged, every file in a hashed manifest", intact,
                            (f"package #{package.pk}, sha256 {package.sha256[:16]}…" if intact else
                             "The package's manifest is missing or altered." if package else
                             "Choose the package (the package job starts when Play 5 hands a model on)."),
                            evidence={"package": package.pk if package else None}))
        variants = (package.parity.get("variants") or {}) if package else {}
        if package is not None and package.shipped == Package.Shipped.CANDIDATE:
            fp32 = variants.get("fp32") or {}
            checks.append(Check("parity", "The ONNX export agrees with the trained model on the sealed test split",
                                bool(fp32.get("ok")),
                                f"label agreement {fp32.get('agreement', 0):.2%}, max probability difference "
                                f"{fp32.get('max_abs_probability_diff', float('nan')):.2e}" if fp32 else
                                "No parity report."))
        production = package is not None and Deployment.objects.filter(
            package=package, stage=Deployment.Stage.PRODUCTION).exists()
        checks.append(Check("production", "A sign-off owner promoted it to production", production,
                            "in production" if production else
                            "Deploy it as the challenger; a sign-off owner promotes it."))
        policy = self.alert_policy(play)
        checks.append(Check("floor", "A live-metric floor the monitor judges by", policy.performance_floor is not None,
                            f"floor {policy.performance_floor:g}" if policy.performance_floor is not None else
                            "Set the live-metric floor."))
        note = (play.deliverable.get("monitoring_note") or "").strip()
        checks.append(Check("note", "Who watches what, written down", len(note.split()) >= 3,
                            "Written." if note else "Write the monitoring note (who is alerted, what they do)."))
        return checks

    def production_model(self, project):
        """The deployment serving production: its package, and the checkpoint a candidate was packaged
        from (what a retrain fine-tunes from and the next evaluation compares the challenger with)."""
        from apps.jobs.models import Artifact
        from apps.playbook.plays import ProductionModel

        _, Deployment = _models()
        deployment = (Deployment.objects.filter(project=project, stage=Deployment.Stage.PRODUCTION)
                      .select_related("package__evaluation").first())
        if deployment is None:
            return None
        package, evaluation = deployment.package, deployment.package.evaluation
        checkpoint = None
        if package.shipped == "candidate" and evaluation.checkpoint_job_id:
            checkpoint = Artifact.objects.filter(job_id=evaluation.checkpoint_job_id, kind=Artifact.Kind.CHECKPOINT,
                                                 sha256=evaluation.checkpoint_sha256).first()
        return ProductionModel(deployment=deployment.pk, package=package.pk, shipped=package.shipped,
                               model=package.model_name, label_names=list(package.label_names),
                               checkpoint_job=evaluation.checkpoint_job_id if checkpoint else None,
                               checkpoint_path=checkpoint.path if checkpoint else None,
                               checkpoint_sha256=checkpoint.sha256 if checkpoint else None)

    # --- the system's own work -----------------------------------------------------------------------

    def on_unlock(self, play) -> None:
        from apps.jobs.services import job_enqueue

        try:
            job_enqueue("package", play, {}, requested_by=None)
        except ApplicationError:
            pass

    def workspace(self, request, play) -> dict:
        from apps.playbook import policy
        from apps.playbook.policy import Action

        Package, Deployment = _models()
        packages = list(Package.objects.filter(play=play).order_by("-created_at")[:10])
        deployments = list(Deployment.objects.filter(project=play.cycle.project).select_related("package")
                           .prefetch_related("history__actor").order_by("-created_at")[:10])
        project = play.cycle.project
        return {
            "packages": packages, "package": self.chosen(play) or (packages[0] if packages else None),
            "deployments": deployments, "policy": self.alert_policy(play).as_dict(),
            "can_deploy": bool(policy.check(request.user, Action.DEPLOYMENT_CREATE, project)),
            "can_promote": bool(policy.check(request.user, Action.DEPLOYMENT_PROMOTE, project)),
        }

    def production_data_url(self, project) -> str | None:
        """The monitoring page of the project's production deployment, where the data owner adds its
        labelled production data as a new dataset version (Play 3's page links to it in a retrain cycle)."""
        from django.urls import reverse

        _, Deployment = _models()
        found = Deployment.objects.filter(project=project, stage=Deployment.Stage.PRODUCTION).values_list(
            "pk", flat=True).first()
        return reverse("playbook:deployment-monitoring", kwargs={"deployment_id": found}) if found else None


PLAY = PackageAndMonitor()
