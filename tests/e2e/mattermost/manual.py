"""`make mattermost`: the test suite's Mattermost stack, for a person to try things by hand.

Starts PostgreSQL and the pinned Mattermost build on loopback, runs the same bootstrap as the
tests, prints the URL, the accounts and the tokens, and keeps running until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys

from tests.e2e.mattermost.bootstrap import PASSWORD, bootstrap
from tests.e2e.mattermost.server import MattermostServer, build_server
from tests.support.postgres import PostgresServer, find_bin_dir


def main() -> None:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is missing: scripts/install-system-deps.sh postgresql")
    print("building (first time only) and starting Mattermost...", file=sys.stderr)
    runtime = build_server()
    postgres = PostgresServer(bin_dir)
    postgres.start()
    postgres.wait_ready()
    server = MattermostServer(runtime, postgres.create_database("mattermost") + "?sslmode=disable")
    try:
        server.start()
        world = bootstrap(server.url)
        print(f"\nMattermost {server.url}   (API only: no web client is built)")
        print(f"Every account's password: {PASSWORD}")
        print(f"  sysadmin  token {world.admin.token}")
        for user in world.users.values():
            print(f"  {user.username:<9} token {user.token}")
        print(f"  bot '{world.bot.username}' token {world.bot.token}  (system_admin)")
        print(f"Team {world.team_name} ({world.team_id})")
        for name, channel_id in world.channels.items():
            print(f"  channel {name:<11} {channel_id}")
        print(
            f"\nFor meetbridge: MEETBRIDGE_MATTERMOST_URL={server.url} MEETBRIDGE_MATTERMOST_TOKEN={world.bot.token}"
        )
        print(f"Logs: {server.log_path}. Ctrl-C stops everything.", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.remove()
        postgres.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
