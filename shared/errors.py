"""One exception hierarchy for the program.

Errors carry the run, user and sign-in ids they concern, so a log line or an HTTP problem document
can name them. Mapping to HTTP status codes happens in one place (`shared.api`).
"""

from __future__ import annotations


class SigninReviewError(Exception):
    """Base of every error this program raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        user_id: str | None = None,
        sign_in_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.run_id = run_id
        self.user_id = user_id
        self.sign_in_id = sign_in_id

    def context(self) -> dict[str, str]:
        """The ids this error concerns, for structured logs and problem documents."""
        found = {"runId": self.run_id, "userId": self.user_id, "signInId": self.sign_in_id}
        return {k: v for k, v in found.items() if v}


class ConfigError(SigninReviewError):
    """A setting is missing or malformed."""


class InputError(SigninReviewError):
    """An export file, message or request body cannot be read as what it claims to be."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 **ids: str | None) -> None:
        where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        super().__init__(where + message, **ids)
        self.source = source
        self.line = line


class NotFoundError(SigninReviewError):
    """A run, verdict or evidence blob that should exist does not."""


class ConflictError(SigninReviewError):
    """The request cannot proceed in the current state (e.g. evidence missing or altered)."""


class GraphError(SigninReviewError):
    """Microsoft Graph refused or failed a call after the retry budget was spent."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 **ids: str | None) -> None:
        super().__init__(message, **ids)
        self.status = status
        self.code = code


class GraphUnavailable(GraphError):
    """Graph answered 403/401: a licence (P1/P2) or a permission is missing. Not retried."""

    @property
    def reason(self) -> str:
        return "licence" if self.code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" \
            else "permission"


class SourceUnavailable(SigninReviewError):
    """A sign-in source other than Graph refused the reader (401/403: a role is missing on the
    archive account or the workspace). Not retried: the run goes on and names it."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 **ids: str | None) -> None:
        super().__init__(message, **ids)
        self.status = status
        self.code = code


class StorageError(SigninReviewError):
    """Table, Blob or Queue storage failed after retries."""


class EvidenceError(SigninReviewError):
    """Evidence is missing, would be overwritten, or its SHA-256 does not match."""


class ConcurrencyConflict(ConflictError):
    """An entity changed since it was read (its ETag no longer matches): read again and retry."""


class Unauthenticated(SigninReviewError):
    """A caller presented no credential, or one that does not check out (HTTP 401)."""


class PermissionDenied(SigninReviewError):
    """A caller is who they say, but is not allowed to do this (HTTP 403)."""


class BodyTooLarge(InputError):
    """A request body is over the size the route accepts (HTTP 413)."""


class UnsupportedContentType(InputError):
    """A request body is not in a media type the route reads (HTTP 415)."""


class ServiceUnavailable(SigninReviewError):
    """Something the answer depends on cannot be reached right now (e.g. the identity provider's
    signing keys); the caller may retry later."""
