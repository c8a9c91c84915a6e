"""Domain errors raised by services; the page views and the API's one exception handler translate them."""
from contextlib import contextmanager


class ApplicationError(Exception):
    """A request the domain refuses. `message` is shown to the user as is; `extra` carries details."""

    status_code = 400

    def __init__(self, message: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    """Bad input: nothing was written. ``fields`` maps a field's name (as the API and the form post it) to
    what is wrong with it, in plain words; a page shows each next to its field, the API answers
    ``{"error": message, "fields": {...}}``."""

    def __init__(self, message: str, extra: dict | None = None, *, fields: dict | None = None):
        super().__init__(message, extra)
        self.fields = dict(fields or {})
        if self.fields:
            self.extra = {**self.extra, "fields": self.fields}


class FieldErrors:
    """Collects every field's problem so a form is refused once, with all of them, instead of one at a time.

        errors = FieldErrors()
        with errors.on("target"):
            data["target"] = number_value(data["target"], "the target")
        errors.raise_if_any()
    """

    def __init__(self):
        self.fields: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    @contextmanager
    def on(self, name: str):
        """Run one field's checks; a refusal is noted against that field (or the fields it names) and the
        next field is checked too."""
        try:
            yield
        except ValidationFailed as exc:
            for key, message in (exc.fields or {name: exc.message}).items():
                self.add(key, message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationFailed(summary(self.fields), fields=self.fields)


def summary(fields: dict) -> str:
    """One sentence over several field problems (the one problem itself when there is only one)."""
    messages = list(fields.values())
    if len(messages) == 1:
        return messages[0]
    return f"{len(messages)} fields need fixing: " + " ".join(messages)


class NotAllowed(ApplicationError):
    """The actor's role does not permit the action (403)."""

    status_code = 403


class NotFound(ApplicationError):
    """Missing, or not visible to the actor: both look the same from outside (404)."""

    status_code = 404


class Conflict(ApplicationError):
    """The object is not in the state the action needs, or another request changed it first (409)."""

    status_code = 409


class UploadTooLarge(ValidationFailed):
    """An upload over the size limit (413): refused as soon as that is known, before the rest is read."""

    status_code = 413


class StorageFull(ApplicationError):
    """The data folder has no room left for what was being written: nothing was stored (507)."""

    status_code = 507
