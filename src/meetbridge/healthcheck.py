"""``python -m meetbridge.healthcheck``: the container's HEALTHCHECK, exit 0 when ``/healthz``
of the meetbridge in this container answers 200 (it does when its database answers).

Standard library only, so that a check every few seconds costs a few milliseconds of CPU.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def healthz_url(environ: dict[str, str]) -> str:
    port = environ.get("MEETBRIDGE_PORT", "8787")
    return f"http://127.0.0.1:{port}/healthz"


def main() -> int:
    url = healthz_url(dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:  # noqa: S310 (http on loopback)
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
