"""Why the network says no: one vocabulary for every service.

A use case raises ``Refused`` (a field is wrong for this case, 422),
``Conflict`` (the case's state forbids it now, 409) or ``NotFound`` (no such
thing, or none the caller may see: 404). The app answers each as RFC 9457
problem details (``rescue_chassis.problems``), once, for all of them; nothing
here knows HTTP beyond the status a refusal stands for.
"""

from __future__ import annotations

from typing import Any

TYPE_BASE = "urn:rescue-network:problem:"


def field_error(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "reason": reason}


class Problem(Exception):
    """Any answer that is not the work done: a status, a title, what happened."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type_ = type_ or title.lower().replace(" ", "-")
        self.errors = errors
        self.headers = headers

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.type_,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


class Refused(Problem):
    """A value the rules refuse for this case: the field and the reason (422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(
            422,
            "Invalid request",
            f"{field}: {reason}",
            type_="validation-error",
            errors=[field_error(field, reason)],
        )
        self.field = field
        self.reason = reason


class Conflict(Problem):
    """The state of things forbids it now (409): answered already, stay ended…"""

    def __init__(
        self, title: str, detail: str, *, type_: str | None = None, field: str | None = None
    ) -> None:
        errors = [field_error(field, detail)] if field else None
        super().__init__(409, title, detail, type_=type_, errors=errors)
        self.reason = detail


class NotFound(Problem):
    """No such thing, or none the caller may see: the two answer alike (404)."""

    def __init__(self, what: str, detail: str | None = None) -> None:
        super().__init__(404, "Not found", detail or f"No such {what}.")
        self.what = what


class Forbidden(Problem):
    """The caller may not do this, whatever the data (403)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(403, title, detail)
