"""Domain errors raised by services; the page views and the API's one exception handler translate them."""


class ApplicationError(Exception):
    """A request the domain refuses. `message` is shown to the user as is; `extra` carries details."""

    status_code = 400

    def __init__(self, message: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    """Bad input: nothing was written."""


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
