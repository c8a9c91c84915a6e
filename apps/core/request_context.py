"""The id of the request (or worker job) being served, so that audit events can name it; and the memo of a
read-only request."""
import contextvars
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str | None = None) -> contextvars.Token:
    return _request_id.set(value or uuid.uuid4().hex)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


# --- the memo of a read-only request ------------------------------------------------------------------
# A page can ask the same question several times while it renders (the actor's roles on the project, what
# the cycle's gates handed on): each answer is read once per GET or HEAD request and reused for the rest of
# it. Only requests that change nothing get a memo (RequestIdMiddleware opens it), so a service that
# changes state, and the reads it makes while doing so, always reads fresh; so do the worker and the shell.
_read_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("read_memo", default=None)


def read_memo_open() -> contextvars.Token:
    return _read_memo.set({})


def read_memo_close(token: contextvars.Token) -> None:
    _read_memo.reset(token)


def memoized(key: tuple, compute):
    """``compute()``, or the answer it gave earlier in this read-only request."""
    memo = _read_memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
