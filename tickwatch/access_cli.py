"""``python -m tickwatch.access_cli``: print the SQL that creates the per-role ClickHouse users.

For a DBA who creates users by hand on a server with SQL access management; ``tickwatch migrate``
runs the same statements itself (``tickwatch.access``). Passwords appear only as SHA-256 hashes.
Exit codes: 0 printed, 2 bad settings or no ``TICKWATCH_CLICKHOUSE_<ROLE>_USERNAME`` set.
"""

from __future__ import annotations

import sys

from tickwatch.access import role_users, users_sql
from tickwatch.settings import ConfigError, load_settings


def main() -> int:
    """Print the statements, one per line, each ending with ``;``."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    users = role_users(settings.clickhouse)
    if not users:
        print("no TICKWATCH_CLICKHOUSE_<ROLE>_USERNAME is set: nothing to create", file=sys.stderr)
        return 2
    for statement in users_sql(users):
        print(f"{statement};")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
