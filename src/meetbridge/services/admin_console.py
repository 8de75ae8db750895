"""Signing admins into the console and keeping their sessions.

The only way in is the personal link ``/meet admin`` gives a system admin: signed, valid for
ten minutes and good for one sign-in. It opens a session kept in the database (so every replica
knows it) and identified by a random cookie of which only a hash is stored; each session has
its own CSRF token for the forms.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from meetbridge.clock import Clock
from meetbridge.domain.ids import UserId, is_mattermost_id
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.ports import DirectoryUnavailableError, UserDirectory
from meetbridge.store import admin_repo
from meetbridge.store.admin_repo import AdminSession
from meetbridge.store.database import Database

LOGIN_PURPOSE = "admin-login"
SESSION_LIFETIME = 8 * 3600.0


class ConsoleSignInError(Exception):
    """Signing in was refused; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    cookie: str
    session: AdminSession


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class AdminConsole:
    def __init__(
        self, database: Database, links: TokenCodec, users: UserDirectory, clock: Clock
    ) -> None:
        self._database = database
        self._links = links
        self._users = users
        self._clock = clock

    def login_link_token(self, user_id: UserId, lifetime: float = 600.0) -> str:
        return self._links.encode(
            LOGIN_PURPOSE,
            {"u": user_id, "n": secrets.token_urlsafe(12)},
            self._clock.now(),
            lifetime,
        )

    async def sign_in(self, token: str) -> SignedIn:
        now = self._clock.now()
        try:
            claims = self._links.decode(token, LOGIN_PURPOSE, now)
        except TokenError as exc:
            raise ConsoleSignInError(
                f"{str(exc).capitalize()}. Run /meet admin for a new one."
            ) from exc
        user_id, nonce = str(claims.get("u", "")), str(claims.get("n", ""))
        if not is_mattermost_id(user_id) or not nonce:
            raise ConsoleSignInError("This sign-in link is not valid.")
        try:
            user = await self._users.user(UserId(user_id))
        except DirectoryUnavailableError as exc:
            raise ConsoleSignInError(
                "Mattermost cannot be reached to confirm who you are."
            ) from exc
        if user is None or not user.is_system_admin:
            raise ConsoleSignInError("Only system admins can use the meetbridge admin console.")
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        async with self._database.transaction() as conn:
            if not await admin_repo.spend_login_nonce(conn, nonce, now):
                raise ConsoleSignInError(
                    "This sign-in link was used already. Run /meet admin for a new one."
                )
            await admin_repo.prune_sessions(conn, now)
            await admin_repo.create_session(
                conn, _hash(cookie), user_id, csrf, now, now + SESSION_LIFETIME
            )
        return SignedIn(cookie, AdminSession(user_id, csrf, now + SESSION_LIFETIME))

    async def session(self, cookie: str | None) -> AdminSession | None:
        if not cookie:
            return None
        async with self._database.read() as conn:
            return await admin_repo.session(conn, _hash(cookie), self._clock.now())

    async def sign_out(self, cookie: str) -> None:
        async with self._database.transaction() as conn:
            await admin_repo.end_session(conn, _hash(cookie))
