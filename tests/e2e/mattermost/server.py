"""A real Mattermost server (Team Edition) for the test suite.

Built from its Go module at a pinned commit by ``build.sh`` into a cache outside the work tree
(first build: minutes; later runs reuse the binary), started on loopback against a throw-away
database of the suite's PostgreSQL server. See NOTES.md for the facts behind the configuration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx2

from tests.support.ports import free_port

BUILD_SCRIPT = Path(__file__).with_name("build.sh")

# What meetbridge needs, and nothing more: bots and their tokens, custom slash commands, custom
# statuses, integrations calling loopback services, the OAuth provider (sign-in for stable
# meeting links), uploaded plugins (meetbridge's companion plugin, unsigned as it is built
# here); no telemetry, marketplace, prepackaged plugins, e-mail or other outbound calls.
# Sign-up stays closed: the first account is created while no user exists (the bootstrap),
# all others by that admin.
_SETTINGS = {
    "MM_SERVICESETTINGS_ENABLEBOTACCOUNTCREATION": "true",
    "MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS": "true",
    "MM_SERVICESETTINGS_ENABLECOMMANDS": "true",
    "MM_SERVICESETTINGS_ENABLEOAUTHSERVICEPROVIDER": "true",
    "MM_SERVICESETTINGS_ENABLEONLYADMININTEGRATIONS": "false",
    "MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS": "localhost 127.0.0.1/32",
    "MM_SERVICESETTINGS_ENABLESECURITYFIXALERT": "false",
    "MM_SERVICESETTINGS_ENABLELINKPREVIEWS": "false",
    "MM_SERVICESETTINGS_ENABLELOCALMODE": "false",
    "MM_SERVICESETTINGS_ENABLEGIFPICKER": "false",
    "MM_TEAMSETTINGS_ENABLEOPENSERVER": "false",
    "MM_TEAMSETTINGS_ENABLECUSTOMUSERSTATUSES": "true",
    "MM_TEAMSETTINGS_ENABLEUSERCREATION": "true",
    "MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL": "true",
    "MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS": "false",
    "MM_EMAILSETTINGS_REQUIREEMAILVERIFICATION": "false",
    "MM_LOGSETTINGS_ENABLEDIAGNOSTICS": "false",
    "MM_LOGSETTINGS_ENABLESENTRY": "false",
    "MM_LOGSETTINGS_ENABLEFILE": "false",
    "MM_LOGSETTINGS_CONSOLELEVEL": "WARN",
    "MM_LOGSETTINGS_ENABLECOLOR": "false",
    "MM_EXPERIMENTALAUDITSETTINGS_FILEENABLED": "false",
    "MM_PLUGINSETTINGS_ENABLE": "true",
    "MM_PLUGINSETTINGS_ENABLEUPLOADS": "true",
    "MM_PLUGINSETTINGS_REQUIREPLUGINSIGNATURE": "false",
    "MM_PLUGINSETTINGS_ENABLEMARKETPLACE": "false",
    "MM_PLUGINSETTINGS_ENABLEREMOTEMARKETPLACE": "false",
    "MM_PLUGINSETTINGS_AUTOMATICPREPACKAGEDPLUGINS": "false",
    "MM_ANNOUNCEMENTSETTINGS_ADMINNOTICESENABLED": "false",
    "MM_ANNOUNCEMENTSETTINGS_USERNOTICESENABLED": "false",
    "MM_IMAGEPROXYSETTINGS_ENABLE": "false",
    "MM_RATELIMITSETTINGS_ENABLE": "false",
}


def build_server(timeout: float = 3600) -> Path:
    """The runtime directory of the pinned build (built once, then reused from the cache)."""
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building Mattermost failed:\n{result.stderr[-5000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def go_available() -> bool:
    return shutil.which(os.environ.get("GO", "go")) is not None


class MattermostServer:
    def __init__(
        self,
        runtime_dir: Path,
        database_url: str,
        *,
        site_url: str = "",
        wrapper: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """``site_url`` when browsers reach it elsewhere (a proxy); ``wrapper`` runs the server
        inside another command (a private /etc/hosts); ``extra_env`` adds to its environment."""
        self.runtime_dir = runtime_dir
        self.database_url = database_url
        self.site_url = site_url
        self.wrapper = list(wrapper)
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.run_dir = Path(tempfile.mkdtemp(prefix="meetbridge-mm-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "mattermost.log"

    def environment(self) -> dict[str, str]:
        for sub in ("config", "data", "plugins", "client/plugins"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            **_SETTINGS,
            "MM_CONFIG": str(self.run_dir / "config" / "config.json"),
            "MM_SQLSETTINGS_DRIVERNAME": "postgres",
            "MM_SQLSETTINGS_DATASOURCE": self.database_url,
            "MM_SERVICESETTINGS_SITEURL": self.site_url or self.url,
            "MM_SERVICESETTINGS_LISTENADDRESS": f"127.0.0.1:{self.port}",
            "MM_FILESETTINGS_DIRECTORY": str(self.run_dir / "data") + "/",
            "MM_PLUGINSETTINGS_DIRECTORY": str(self.run_dir / "plugins"),
            "MM_PLUGINSETTINGS_CLIENTDIRECTORY": str(self.run_dir / "client" / "plugins"),
            **self.extra_env,
        }

    def start(self, timeout: float = 120.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.wrapper, str(self.runtime_dir / "bin" / "mattermost"), "server"],
                cwd=self.run_dir,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so that kill() also ends the plugin processes it
                # starts (a SIGKILLed Mattermost leaves them running otherwise).
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Mattermost exited:\n{self.log_path.read_text()[-5000:]}")
            if self.is_up():
                return
            time.sleep(0.2)
        raise RuntimeError("Mattermost did not answer /api/v4/system/ping in time")

    def is_up(self) -> bool:
        try:
            return httpx2.get(f"{self.url}/api/v4/system/ping", timeout=1.0).status_code == 200
        except httpx2.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the server (its data stays: start() brings the same server back)."""
        self.resume()  # a frozen process would hold SIGTERM until continued
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._end_process_group()
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and requests queue up unanswered,
        as when a host hangs; resume() lets it carry them all out."""
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """End the server at once (SIGKILL, a crash): whatever it had queued is lost."""
        if self.process is not None and self.process.poll() is None:
            self._end_process_group()
            self.process.wait(timeout=30)
        self.process = None

    def _end_process_group(self) -> None:
        """SIGKILL Mattermost and whatever it started (plugins) that is still running."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def restart(self, timeout: float = 120.0) -> None:
        """After kill() or stop(): the same server again (same data, same port)."""
        self.stop()
        self.start(timeout)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)
