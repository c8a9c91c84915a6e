"""Play 6, package, monitor and retrain: the model and data owners' play.

When Play 5 hands a model on (the approved candidate, or the baseline it chose to ship), the system starts
a package job: the model in standard formats with its ONNX variants and their parity on the sealed test
split, the model card, the monitoring reference and the lineage, every file hashed. The model owner deploys
the package as the challenger; a sign-off owner promotes it to production. The owners set the live-metric
floor and the drift thresholds the monitor judges production windows by; a breach of the floor opens the
next cycle (apps.playbook.services.cycle_open_retrain), which fine-tunes from the production checkpoint.
"""
from apps.core.errors import ApplicationError, FieldErrors, ValidationFailed
from apps.core.request_context import memoized
from apps.jobs.kinds import GPU, JobKind
from apps.monitoring import monitor, packaging_job
from apps.playbook.plays import Check, PlayModule, number_value, optional_id, stored_id

POLICY_KEYS = {"min_window", "persistence", "lookback", "cooldown_windows", "alpha"}
# What each drift threshold can sensibly be: the text AUC lies between chance (0.5) and 1, the confidence
# drop between 0 and 1; MMD² and PSI are positive.
THRESHOLD_RANGES = {"text": (0.5, 1.0), "confidence": (0.0, 1.0), "embedding": (0.0, 10.0), "prediction_mix": (0.0, 10.0)}
# The owners' monitoring settings, which a retrain cycle's Play 6 inherits until it sets its own.
MONITORING_KEYS = ("live_metric_floor", "drift_thresholds", "alert_policy", "monitoring_note")


def _models():
    from apps.monitoring.models import Deployment, Package

    return Package, Deployment


class PackageAndMonitor(PlayModule):
    number = 6
    keys = ("package", "live_metric_floor", "drift_thresholds", "alert_policy", "monitoring_note")
    workspace_template = "monitoring/_play6_workspace.html"
    # The alert policy and the package check on the play and monitoring pages (SciPy, scikit-learn).
    page_imports = ("workers.engine.drift", "workers.engine.packaging")
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
        errors = FieldErrors()
        if "package" in data:
            with errors.on("package"):
                package_id = optional_id(data["package"], "package")
                if package_id is not None and not Package.objects.filter(pk=package_id, play=play).exists():
                    raise ValidationFailed(f"Choose one of this play's packages (#{package_id} is not one of them).")
                data["package"] = package_id
        if "live_metric_floor" in data:
            value = data["live_metric_floor"]
            with errors.on("live_metric_floor"):
                data["live_metric_floor"] = None if value in (None, "") else number_value(value, "live_metric_floor")
                if data["live_metric_floor"] is not None and not 0 <= data["live_metric_floor"] <= 1:
                    raise ValidationFailed("Give the live metric floor on the committed metric's scale, between 0 "
                                           "and 1 (e.g. 0.8), or leave it empty to use Play 1's target.")
        if "drift_thresholds" in data:
            thresholds = data["drift_thresholds"] or {}
            if not isinstance(thresholds, dict):
                raise ValidationFailed("Send the drift thresholds as an object of signal → threshold.")
            known = set(AlertPolicy().thresholds)
            if unknown := sorted(set(thresholds) - known):
                raise ValidationFailed(f"There is no drift signal called {', '.join(unknown)}; "
                                       f"the signals are: {', '.join(sorted(known))}.")
            cleaned = {}
            for key, value in thresholds.items():
                name, label = f"drift_thresholds.{key}", _label(SIGNAL_GLOSSES, key)
                with errors.on(name):
                    number = _number(value, name, label)
                    low, high = THRESHOLD_RANGES.get(key, (0.0, 10.0))
                    if not low < number <= high:
                        raise ValidationFailed(f"Give the threshold for {label} as a number above {low:g} and at "
                                               f"most {high:g} (not {number:g}), or leave it empty for the default.")
                    cleaned[key] = number
            data["drift_thresholds"] = cleaned
        if "alert_policy" in data:
            policy = data["alert_policy"] or {}
            if not isinstance(policy, dict):
                raise ValidationFailed("Send the alert policy as an object of setting → value.")
            if unknown := sorted(set(policy) - POLICY_KEYS):
                raise ValidationFailed(f"The alert policy has no setting called {', '.join(unknown)}; "
                                       f"its settings are: {', '.join(sorted(POLICY_KEYS))}.")
            cleaned = {}
            for key, value in policy.items():
                name, label = f"alert_policy.{key}", _label(POLICY_GLOSSES, key)
                with errors.on(name):
                    number = _number(value, name, label)
                    if key == "alpha":
                        if not 0 < number < 0.5:
                            raise ValidationFailed(f"Give {label} as a number above 0 and below 0.5, e.g. 0.05.")
                        cleaned[key] = number
                    else:
                        if number != int(number) or not 1 <= number <= 100_000:
                            raise ValidationFailed(f"Give {label} as a whole number from 1 to 100,000.")
                        cleaned[key] = int(number)
            # A field left out takes the engine's default, so compare what the monitor will actually use.
            persistence = cleaned.get("persistence", AlertPolicy.persistence)
            lookback = cleaned.get("lookback", AlertPolicy.lookback)
            if persistence > lookback and not {"alert_policy.persistence", "alert_policy.lookback"} & set(errors.fields):
                message = (f"The persistence ({_windows(persistence)}) cannot exceed the lookback ({_windows(lookback)}"
                           f"{'' if 'lookback' in cleaned else ', the default'}): lower the persistence or raise "
                           "the lookback.")
                errors.add("alert_policy.persistence" if "persistence" in cleaned else "alert_policy.lookback",
                           message)
            data["alert_policy"] = cleaned
        if "monitoring_note" in data:
            note = data["monitoring_note"] or ""
            if not isinstance(note, str) or len(note) > 5000:
                errors.add("monitoring_note", "Write the monitoring note as text of up to 5,000 characters.")
            else:
                data["monitoring_note"] = note.strip()
        errors.raise_if_any()
        return data

    def monitoring_settings(self, play) -> tuple[dict, dict]:
        """The owners' monitoring settings in force for this play, and where each came from: its own
        deliverable, else (a retrain cycle) the newest earlier cycle's Play 6 that set it, so thresholds the
        owners tuned do not fall back to the defaults when the model is retrained. Returns (settings, {key:
        cycle number it was inherited from}). Read once per read-only request (the page asks twice)."""
        found, inherited = memoized(("play6.settings", play.pk), lambda: self._monitoring_settings(play))
        return dict(found), dict(inherited)

    @staticmethod
    def _monitoring_settings(play) -> tuple[dict, dict]:
        from apps.playbook.models import Play

        found = {k: play.deliverable[k] for k in MONITORING_KEYS if play.deliverable.get(k) not in (None, "", {})}
        inherited = {}
        earlier = (Play.objects.filter(cycle__project_id=play.cycle.project_id, cycle__number__lt=play.cycle.number,
                                       number=6).select_related("cycle").order_by("-cycle__number"))
        for previous in earlier:
            for key in MONITORING_KEYS:
                value = previous.deliverable.get(key)
                if key not in found and value not in (None, "", {}):
                    found[key], inherited[key] = value, previous.cycle.number
            if len(found) == len(MONITORING_KEYS):
                break
        return found, inherited

    def alert_policy(self, play, settings: dict | None = None):
        """The AlertPolicy the monitor applies: the engine's defaults, the owners' thresholds and policy,
        and the live-metric floor (Play 1's target unless the owners set another); a retrain cycle's play
        inherits what an earlier cycle's owners set and it did not."""
        from apps.playbook.selectors import cycle_inputs
        from workers.engine.drift import AlertPolicy

        d = settings if settings is not None else self.monitoring_settings(play)[0]
        defaults = AlertPolicy()
        floor = d.get("live_metric_floor")
        if floor is None:
            inputs = cycle_inputs(play.cycle)
            floor = inputs[1].target if 1 in inputs else None
        return AlertPolicy(thresholds={**defaults.thresholds, **(d.get("drift_thresholds") or {})},
                           performance_floor=floor, **(d.get("alert_policy") or {}))

    # --- the gate ----------------------------------------------------------------------------------

    def chosen(self, play):
        """The package the gate judges: the one the owners chose, else this play's package in production
        (a retrain cycle's approval promoted it: there is nothing left to choose)."""
        Package, Deployment = _models()
        package_id = stored_id(play.deliverable.get("package"))
        if package_id:
            return memoized(("play6.chosen", play.pk, package_id),
                            lambda: Package.objects.filter(pk=package_id, play=play).first())
        return memoized(("play6.chosen", play.pk, None), lambda: Package.objects.filter(
            play=play, deployments__stage=Deployment.Stage.PRODUCTION).first())

    def verify(self, play) -> None:
        from apps.core import storage
        from workers.engine.packaging import PackageInvalid, verify_package

        package = self.chosen(play)
        if package is None:
            return
        try:
            verify_package(storage.absolute(package.path), expected_sha256=package.sha256)
        except (OSError, PackageInvalid) as exc:
            raise ValidationFailed(f"Package #{package.pk} is missing or altered since it was built, so it "
                                   f"cannot be submitted: {exc}. Use another package, or run the package job "
                                   "again.") from None

    def checks(self, play) -> list[Check]:
        from apps.core import storage

        Package, Deployment = _models()
        package = self.chosen(play)
        checks = []
        # The hash was taken once, when the package was built; showing it reads no file (only a stat). The
        # files are checked against it when the play is submitted, when the package is served or downloaded.
        intact = package is not None and (storage.absolute(package.path) / "manifest.json").exists()
        if intact:
            package_detail = f"package #{package.pk} is chosen, sha256 {package.sha256[:16]}…"
        elif package is not None:
            package_detail = (f"Package #{package.pk}'s manifest is missing: use another package, or run the "
                              "package job again.")
        elif Package.objects.filter(play=play).exists():
            package_detail = ("No package is chosen: pick the one the gate should judge with “Use this package” "
                              "under The package.")
        else:
            package_detail = ("No package yet: the package job starts by itself when Play 5 hands a model on; "
                              "wait for it to finish, then choose its package.")
        checks.append(Check("package", "The approved model is packaged, every file in a hashed manifest", intact,
                            package_detail, evidence={"package": package.pk if package else None}))
        variants = (package.parity.get("variants") or {}) if package else {}
        if package is not None and package.shipped == Package.Shipped.CANDIDATE:
            fp32 = variants.get("fp32") or {}
            checks.append(Check("parity", "The ONNX export agrees with the trained model on the sealed test split",
                                bool(fp32.get("ok")),
                                f"label agreement {fp32.get('agreement', 0):.2%}, max probability difference "
                                f"{fp32.get('max_abs_probability_diff', float('nan')):.2e}" if fp32 else
                                "The package has no parity report: run the package job again."))
        production = package is not None and Deployment.objects.filter(
            package=package, stage=Deployment.Stage.PRODUCTION).exists()
        challenger = None if production or package is None else Deployment.objects.filter(
            package=package, stage=Deployment.Stage.CHALLENGER).first()
        checks.append(Check("production", "A sign-off owner promoted it to production", production,
                            f"package #{package.pk} is in production" if production else
                            "Choose the package first." if package is None else
                            f"Deployment #{challenger.pk} is the challenger: a sign-off owner promotes it "
                            "under Deployments." if challenger else
                            f"Package #{package.pk} is not deployed: the model owner deploys it as the challenger, "
                            "then a sign-off owner promotes it to production."))
        settings, inherited = self.monitoring_settings(play)
        policy = self.alert_policy(play, settings)
        own_floor = settings.get("live_metric_floor") is not None
        origin = (f"set by the owners in cycle {inherited['live_metric_floor']}" if "live_metric_floor" in inherited
                  else "set by the owners" if own_floor else "Play 1’s target")
        checks.append(Check("floor", "A live-metric floor the monitor judges by", policy.performance_floor is not None,
                            f"floor {policy.performance_floor:g} ({origin})"
                            if policy.performance_floor is not None else
                            "No floor: Play 1 set no target; enter the live-metric floor under What the monitor "
                            "watches."))
        note = (settings.get("monitoring_note") or "").strip()
        checks.append(Check("note", "Who watches what, written down", len(note.split()) >= 3,
                            (f"Written in cycle {inherited['monitoring_note']}; it holds until the owners write "
                             "another." if "monitoring_note" in inherited else "Written.")
                            if len(note.split()) >= 3 else
                            "Too short: say who is alerted and what they do (three words at least)." if note else
                            "Write the monitoring note: who is alerted, and what they do."))
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
        from workers.engine.drift import AlertPolicy

        Package, Deployment = _models()
        packages = list(Package.objects.filter(play=play).order_by("-created_at")[:10])
        deployments = list(Deployment.objects.filter(project=play.cycle.project).select_related("package")
                           .prefetch_related("history__actor").order_by("-created_at")[:10])
        project = play.cycle.project
        chosen = self.chosen(play)
        in_force = self.alert_policy(play)
        defaults = AlertPolicy()
        stored = {"drift_thresholds": play.deliverable.get("drift_thresholds") or {},
                  "alert_policy": play.deliverable.get("alert_policy") or {}}

        def field(group, key, label, gloss, default, current):
            own = stored[group].get(key)
            return {"name": f"{group}.{key}", "key": key, "label": label, "gloss": gloss, "default": f"{default:g}",
                    "current": f"{current:g}", "value": "" if own is None else f"{own:g}", "own": own is not None}

        threshold_fields = [field("drift_thresholds", signal, label, gloss, defaults.thresholds[signal],
                                  in_force.thresholds[signal])
                            for signal, (label, gloss) in SIGNAL_GLOSSES.items()]
        policy_fields = [field("alert_policy", key, label, gloss, getattr(defaults, key), getattr(in_force, key))
                         for key, (label, gloss) in POLICY_GLOSSES.items()]
        return {
            "packages": packages, "package": chosen or (packages[0] if packages else None), "chosen": chosen,
            "deployments": deployments, "policy": in_force.as_dict(),
            "deployed_packages": {d.package_id for d in deployments if d.stage != Deployment.Stage.RETIRED},
            "threshold_fields": threshold_fields, "policy_fields": policy_fields,
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


# What each drift threshold and alert-policy field means, in the words the Play 6 page shows beside its input.
SIGNAL_GLOSSES = {
    "text": ("Input text drift (domain-classifier AUC)",
             "How well a classifier tells this window's texts from the reference: 0.5 means indistinguishable, "
             "1 fully separable; 0.6 is roughly a fifth of the window unlike anything approved. Breaches at or "
             "above the threshold (and p below alpha)."),
    "embedding": ("Embedding drift (MMD²)",
                  "How far the encoder's embeddings of the window sit from the reference's; its scale depends on "
                  "the encoder. Breaches at or above the threshold (and p below alpha)."),
    "prediction_mix": ("Predicted-label mix (PSI)",
                       "How far the share of each predicted label moved from the reference: under 0.1 is stable, "
                       "over 0.25 a large shift. Breaches at or above the threshold."),
    "confidence": ("Drop in mean confidence",
                   "How much the model's average top probability fell compared with the reference (0.05 = five "
                   "points). Breaches at or above the threshold (and p below alpha)."),
}
POLICY_GLOSSES = {
    "min_window": ("Minimum window size (predictions)",
                   "Windows with fewer predictions are not judged and do not count for persistence or cooldown."),
    "persistence": ("Persistence (breaching windows)",
                    "An alert fires when a signal breaches in this many of the last lookback windows, e.g. 2 of "
                    "the last 3. A live metric measured below the floor fires at once. At most the lookback."),
    "lookback": ("Lookback (judged windows)",
                 "How many of the latest judged windows persistence counts over, this one included."),
    "cooldown_windows": ("Cooldown (judged windows)",
                         "After a signal fires, it stays quiet for this many judged windows; the retrain trigger "
                         "too."),
    "alpha": ("Significance level (alpha)",
              "A signal with a p-value (text, embedding, confidence) breaches only when p is below this; more "
              "than 0 and less than 0.5."),
}


PLAY = PackageAndMonitor()


def _label(glosses: dict, key: str) -> str:
    """A threshold or policy setting as the page names it, in lower case ("the persistence (breaching windows)")."""
    label = glosses.get(key, (key.replace("_", " "),))[0]
    return "the " + label[0].lower() + label[1:]


def _number(value, name: str, label: str) -> float:
    try:
        return number_value(value, name)
    except ValidationFailed:
        raise ValidationFailed(f"Give {label} as a number ({value!r} is not one), or leave it empty for the "
                               "default.") from None


def _windows(count: int) -> str:
    return f"{count} window" if count == 1 else f"{count} windows"
