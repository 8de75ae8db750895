"""Links into Pexip's own web app (Webapp3), used when the embedded experience is off."""

from __future__ import annotations

from urllib.parse import quote, urlencode


def webapp3_url(node: str, webapp_path: str, alias: str, display_name: str, pin: str) -> str:
    """``https://<node>/<path>/m/<alias>/express?name=..&pin=..``, every value URL-encoded.

    The express flow skips the pre-join screens. This link contains the PIN: it is only ever
    handed to the browser of the channel member it is for, never posted in Mattermost.
    """
    query = urlencode({"name": display_name, "pin": pin}, quote_via=quote)
    return f"https://{node}/{webapp_path}/m/{quote(alias, safe='')}/express?{query}"
