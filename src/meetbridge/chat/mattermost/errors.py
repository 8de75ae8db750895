"""Errors from the Mattermost REST API.

MattermostError
 ├── MattermostUnavailableError   the server could not be reached or answered 5xx/429
 └── MattermostApiError           the server refused the request (4xx), with its error id
"""

from __future__ import annotations


class MattermostError(Exception):
    """Root of everything the Mattermost client raises."""


class MattermostUnavailableError(MattermostError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MattermostApiError(MattermostError):
    def __init__(self, status_code: int, error_id: str, message: str) -> None:
        super().__init__(f"{status_code} {error_id}: {message}")
        self.status_code = status_code
        self.error_id = error_id
        self.message = message
