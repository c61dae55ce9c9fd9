"""Errors a user can act on.

`UserError` is anything the user can fix (a typo in a benchmark name, a missing file, a server
that is not running): the CLI prints its message on one line and exits with status 2, never a
traceback. Provider failures are not exceptions that escape a run: they become `ErrorInfo` on a
response (see `assay.requests`).
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input or environment, explained in one line with a fix."""


class Unreachable(UserError):
    """A server that did not answer (not running yet, a dropped connection): worth retrying."""


class ProviderError(Exception):
    """A failed model call, classified so the executor knows whether to retry."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
