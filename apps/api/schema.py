"""The project's OpenAPI generation: every operation documents the refusals the API really returns.

drf-spectacular documents only the success response of each view. Our one exception handler
(apps.api.exception_handlers) answers every refusal with `{"error": message, ...details}`; this AutoSchema
adds that shape as the `Error` component and lists, per operation, the statuses it can produce:
400 (bad input or a domain refusal), 401/403 (no credentials / not allowed), 404 (missing or not visible),
409 (wrong state, or another request got there first), 413 (an upload over the size limit), 429 (sign-in
lockout) and 507 (the data folder is full).
"""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every refusal: `error` is a message for a person; other keys add details "
                   "(`fields` for per-field input errors, `line` for the line of an upload, `limit`...).",
    "properties": {
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True,
                   "description": "Bad input, every problem at once: each refused field (as the request names "
                                  "it, e.g. `target` in a deliverable or `folds` in a job's params) → what is "
                                  "wrong and what to send instead, in plain words. `error` sums them up.",
                   "example": {"target": "Give the target for accuracy as a number between 0 and 1, e.g. 0.85 "
                                         "for 85%."}},
    },
    "required": ["error"],
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    "400": "Bad input, or a request the domain refuses (the message says why); nothing was written.",
    "401": "No valid credentials were sent.",
    "403": "The caller may not do this.",
    "404": "Not found, or not visible to the caller (both look the same).",
    "409": "The object is not in the state this action needs, or another request changed it first.",
    "413": "The upload is larger than the limit.",
    "415": "The body is not in a media type this operation reads.",
    "429": "Too many failed sign-ins: this username is locked out from this address for a while.",
    "507": "The data folder is full: nothing was stored.",
}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_PLAIN_STRINGS = (serializers.CharField,)
_TEXT = r"^[^\x00]*$"
# At least one character that DRF's trimming (Python's str.strip) keeps. Python counts \x1c-\x1f and \x85 as
# whitespace and ECMAScript's \s (which OpenAPI patterns follow) does not, so they are named too: a name of
# "\t\x85" matches a plain \S but is blank to the API.
_NON_BLANK_TEXT = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85][^\x00]*$"


class PlaybookAutoSchema(AutoSchema):
    def map_parsers(self):
        # A view that reads JSON is documented as taking JSON only: the form parsers DRF adds by default
        # serve the browsable API, and a form cannot carry what our inputs hold (objects, lists, null).
        media_types = super().map_parsers()
        return ["application/json"] if "application/json" in media_types else media_types

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF refuses a NUL character in any CharField, and a blank one (after trimming whitespace) unless
        # allow_blank; say so, so that a schema-valid string is one the API accepts.
        if (direction == "request" and type(field) in _PLAIN_STRINGS and "pattern" not in schema
                and schema.get("type") == "string" and "format" not in schema):
            schema["pattern"] = _TEXT if field.allow_blank or not field.trim_whitespace else _NON_BLANK_TEXT
        if direction == "request" and isinstance(field, serializers.FileField) and not field.allow_empty_file:
            schema["minLength"] = 1  # DRF refuses an empty upload
        return schema

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:  # a NUL in a query filter is refused (PostgreSQL text cannot hold one)
            schema = parameter.get("schema", {})
            if parameter.get("in") == "query" and schema.get("type") == "string" and not (
                    {"format", "pattern", "enum"} & set(schema)):
                schema["pattern"] = _TEXT
        return parameters

    def _get_request_for_media_type(self, serializer, direction="request"):
        # drf-spectacular documents a PATCH body as partial (every field optional), as DRF's generic views
        # read it; our PATCH views validate their whole input serializer, so document what they require.
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        error = self._error_component()
        for code in self._error_statuses():
            responses.setdefault(code, {
                "description": _DESCRIPTIONS[code],
                "content": {"application/json": {"schema": error.ref}},
            })
        return responses

    def _error_component(self) -> ResolvedComponent:
        component = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="Error",
                                      schema=ERROR_SCHEMA)
        self.registry.register_on_missing(component)
        return component

    def _error_statuses(self) -> list[str]:
        writes = self.method in _WRITES
        signs_in = not self.view.get_authenticators()  # the token exchange: it checks a password, nothing else
        codes = []
        if writes or any(p.get("in") == "query" for p in self._get_parameters()):
            codes.append("400")
        if not signs_in:
            codes += ["401", "403"]
            if writes or "{" in self.path:  # an id in the path or the body that the caller cannot see
                codes.append("404")
            if writes:
                codes.append("409")
        if writes and self.get_request_serializer() is not None:
            codes.append("415")
            if "multipart/form-data" in self.map_parsers():
                codes += ["413", "507"]  # over the size limit; the data folder is full (nothing stored)
        if signs_in and writes:
            codes.append("429")  # repeated failed sign-ins lock the username out from that address
        return codes

PAGINATION_PARAMETERS = [
    OpenApiParameter("limit", int, required=False, description="Rows per page (default per list)."),
    OpenApiParameter("offset", int, required=False, description="Rows to skip."),
]


def paginated(name: str, item_serializer) -> serializers.Serializer:
    """The body of a LimitOffsetPagination page of `item_serializer` rows, as a named component."""
    return inline_serializer(name=name, fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item_serializer(many=True),
    })
