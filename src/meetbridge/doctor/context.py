"""What the checks share: the configuration, one HTTP client, and the database when it opens."""

from __future__ import annotations

import email.utils
import ssl
from dataclasses import dataclass

import httpx2
from sqlalchemy.engine import make_url

from meetbridge.clock import Clock, SystemClock
from meetbridge.config import ServiceConfig
from meetbridge.core import Core
from meetbridge.services.shared_state import SharedState

TIMEOUT = httpx2.Timeout(8.0, connect=4.0)
CLOCK_TOLERANCE = 5.0  # seconds: HTTP dates have whole seconds, and requests take time


@dataclass
class DoctorContext:
    config: ServiceConfig
    http: httpx2.AsyncClient  # verifies certificates against this host's trust store
    clock: Clock
    core: Core | None = None  # None when the secret key cannot be read
    state: SharedState | None = None  # loaded once the database answers

    @classmethod
    def create(cls, config: ServiceConfig) -> DoctorContext:
        return cls(config, httpx2.AsyncClient(timeout=TIMEOUT), SystemClock())

    @property
    def public_url(self) -> str:
        return self.config.effective_public_url

    def mattermost_auth(self) -> dict[str, str]:
        token = self.config.mattermost_token
        return {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}

    async def close(self) -> None:
        await self.http.aclose()
        if self.core is not None:
            await self.core.close()


def database_location(url: str) -> str:
    """The database URL without its password, to name it in a finding."""
    return make_url(url).render_as_string(hide_password=True)


def clock_skew(date_header: str | None, now: float) -> float | None:
    """Seconds the server's clock (its HTTP ``Date``) is ahead of ours; None without one."""
    if not date_header:
        return None
    try:
        return email.utils.parsedate_to_datetime(date_header).timestamp() - now
    except (TypeError, ValueError):
        return None


def reason(exc: BaseException) -> str:
    """A short, specific account of a failed request (certificate, refusal, timeout...)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate not accepted ({cause.verify_message})"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError | httpx2.TimeoutException):
            return "no answer (timed out)"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or exc.__class__.__name__
