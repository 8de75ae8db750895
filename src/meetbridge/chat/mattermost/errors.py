"""Errors from the Mattermost REST API.

MattermostError
 ├── MattermostUnavailableError   no answer, 5xx/429, a redirect, or a 2xx that is not JSON
 │                                (a proxy's or SSO gateway's page): Mattermost was not reached
 └── MattermostApiError           4xx; ``from_server`` when the body is Mattermost's own error
                                  (JSON with an error id), not a page from something in front
"""

from __future__ import annotations


class MattermostError(Exception):
    """Root of everything the Mattermost client raises."""


class MattermostUnavailableError(MattermostError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MattermostApiError(MattermostError):
    def __init__(
        self, status_code: int, error_id: str, message: str, from_server: bool = True
    ) -> None:
        super().__init__(f"{status_code} {error_id}: {message}")
        self.status_code = status_code
        self.error_id = error_id
        self.message = message
        self.from_server = from_server
