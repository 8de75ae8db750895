"""Signing admins into the console and keeping their sessions.

The only way in is the personal link ``/meet admin`` gives a system admin: signed, valid for
ten minutes and good for one sign-in, and only in a browser Mattermost has confirmed to be that
admin (the web layer gets that proof). It opens a session kept in the database (so every replica
knows it) and identified by a random cookie of which only a hash is stored; each session has
its own CSRF token for the forms. The admin's role is asked of Mattermost again at least every
``ROLE_CHECK_INTERVAL`` seconds: a demoted admin's session ends on their next request.
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
ROLE_CHECK_INTERVAL = 5 * 60.0
NOT_ADMIN = "Only system admins can use the meetbridge admin console."
UNREACHABLE = "Mattermost cannot be reached to confirm your role; try again in a moment."


class ConsoleSignInError(Exception):
    """Signing in was refused; the message is safe to show."""


class ConsoleAccessError(Exception):
    """A session may not be used (any more); the message is safe to show."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class SignedIn:
    cookie: str
    session: AdminSession


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class AdminConsole:
    def __init__(
        self,
        database: Database,
        links: TokenCodec,
        users: UserDirectory,
        clock: Clock,
        role_check_interval: float = ROLE_CHECK_INTERVAL,
    ) -> None:
        self._database = database
        self._links = links
        self._users = users
        self._clock = clock
        self.role_check_interval = role_check_interval
        # When each session (by hash) last had its admin role confirmed, in this process.
        self._role_checked: dict[str, float] = {}

    def login_link_token(self, user_id: UserId, lifetime: float = 600.0) -> str:
        return self._links.encode(
            LOGIN_PURPOSE,
            {"u": user_id, "n": secrets.token_urlsafe(12)},
            self._clock.now(),
            lifetime,
        )

    def link_user(self, token: str) -> UserId:
        """Whom a sign-in link was made for; raises ConsoleSignInError for a bad link."""
        return self._claims(token)[0]

    def _claims(self, token: str) -> tuple[UserId, str]:
        try:
            claims = self._links.decode(token, LOGIN_PURPOSE, self._clock.now())
        except TokenError as exc:
            raise ConsoleSignInError(
                f"{str(exc).capitalize()}. Run /meet admin for a new one."
            ) from exc
        user_id, nonce = claims.get("u"), claims.get("n")
        if not isinstance(user_id, str) or not is_mattermost_id(user_id):
            raise ConsoleSignInError("This sign-in link is not valid.")
        if not isinstance(nonce, str) or not nonce:
            raise ConsoleSignInError("This sign-in link is not valid.")
        return UserId(user_id), nonce

    async def sign_in(self, token: str, proven_user: UserId) -> SignedIn:
        """Spend the link and open a session, for the admin Mattermost confirmed is here."""
        now = self._clock.now()
        user_id, nonce = self._claims(token)
        if user_id != proven_user:
            raise ConsoleSignInError("This sign-in link was made for another Mattermost user.")
        try:
            still_admin = await self._is_admin_now(user_id)
        except DirectoryUnavailableError as exc:
            raise ConsoleSignInError(UNREACHABLE) from exc
        if not still_admin:
            raise ConsoleSignInError(NOT_ADMIN)
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
        self._role_checked[_hash(cookie)] = now
        return SignedIn(cookie, AdminSession(user_id, csrf, now + SESSION_LIFETIME))

    async def session(self, cookie: str | None) -> AdminSession | None:
        """The signed-in session, None if there is none; raises ConsoleAccessError when its
        admin is no longer a system admin (the session is ended) or that cannot be confirmed."""
        if not cookie:
            return None
        key, now = _hash(cookie), self._clock.now()
        async with self._database.read() as conn:
            found = await admin_repo.session(conn, key, now)
        if found is None:
            self._role_checked.pop(key, None)
            return None
        if now - self._role_checked.get(key, float("-inf")) >= self.role_check_interval:
            try:
                still_admin = await self._is_admin_now(UserId(found.user_id))
            except DirectoryUnavailableError as exc:
                raise ConsoleAccessError(UNREACHABLE, 503) from exc  # fail closed, keep session
            if not still_admin:
                await self.sign_out(cookie)
                raise ConsoleAccessError(NOT_ADMIN + " Your session has ended.", 403)
            self._forget_stale(now)
            self._role_checked[key] = now
        return found

    async def is_signed_in(self, cookie: str | None) -> bool:
        """Whether the cookie is a session of an admin who is still one (False when that
        cannot be confirmed now)."""
        try:
            return await self.session(cookie) is not None
        except ConsoleAccessError:
            return False

    async def _is_admin_now(self, user_id: UserId) -> bool:
        user = await self._users.user_now(user_id)
        return user is not None and user.is_system_admin

    def _forget_stale(self, now: float) -> None:
        # Sessions last at most SESSION_LIFETIME: older check times belong to ended sessions.
        for key in [k for k, t in self._role_checked.items() if now - t > SESSION_LIFETIME]:
            del self._role_checked[key]

    async def sign_out(self, cookie: str) -> None:
        self._role_checked.pop(_hash(cookie), None)
        async with self._database.transaction() as conn:
            await admin_repo.end_session(conn, _hash(cookie))
