"""``MEETBRIDGE_<NAME>_FILE``: a setting read from a file, as container secrets are mounted.

Docker and Podman secrets, Kubernetes Secret volumes and systemd credentials all hand a secret
over as a file; naming the file keeps the value out of the environment (``/proc/<pid>/environ``,
``podman inspect``) and out of the compose file. The file's content, less surrounding white
space, is the value. Setting both the variable and its ``_FILE`` is refused, as is a named file
that cannot be read: a secret volume that is not mounted must stop the start, not run with none.
(``MEETBRIDGE_SECRET_KEY_FILE`` and ``MEETBRIDGE_METRICS_TOKEN_FILE`` are settings of their own,
with checks of their own: see core.py.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

FILE_SETTINGS = (
    "database_url",
    "database_password",
    "mattermost_token",
    "livekit_api_key",
    "livekit_api_secret",
)


def read_secret_files(environ: Mapping[str, str]) -> dict[str, str]:
    """The values of the settings named by ``MEETBRIDGE_<NAME>_FILE`` in ``environ``."""
    values: dict[str, str] = {}
    for name in FILE_SETTINGS:
        variable = f"MEETBRIDGE_{name.upper()}"
        path = environ.get(f"{variable}_FILE")
        if not path:
            continue
        if environ.get(variable):
            raise ValueError(f"set {variable} or {variable}_FILE, not both")
        try:
            values[name] = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{variable}_FILE: {path} cannot be read: {exc}") from exc
    return values


class SecretFilesSource(PydanticBaseSettingsSource):
    """The pydantic-settings source behind ``read_secret_files`` (process environment)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # whole-source: see __call__

    def __call__(self) -> dict[str, Any]:
        return dict(read_secret_files(os.environ))
