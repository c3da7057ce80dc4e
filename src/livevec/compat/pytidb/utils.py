"""pytidb's `build_tidb_connection_url`, for code that builds TiDB URLs. `TiDBClient.connect` refuses
them (livevec's stores are a SQLite file or PostgreSQL): it is here so that such code imports."""

from __future__ import annotations

import re
from urllib.parse import quote

from pydantic import AnyUrl, UrlConstraints

from ._errors import ArgumentError

TIDB_SERVERLESS_HOST_PATTERN = re.compile(
    r"gateway\d{2}\.(.+)\.(prod|dev|staging)\.(shared\.)?(aws|alicloud)\.tidbcloud\.com"
)


class _TiDBURL(AnyUrl):
    _constraints = UrlConstraints(
        allowed_schemes=["mysql", "mysql+pymysql"], default_port=4000, host_required=True
    )


def build_tidb_connection_url(
    schema: str = "mysql+pymysql",
    host: str = "localhost",
    port: int = 4000,
    username: str = "root",
    password: str = "",
    database: str = "test",
    enable_ssl: bool | None = None,
) -> str:
    """A TiDB connection URL, as pytidb builds it (TLS verified for TiDB Serverless hosts by default).

    Returns:
        The URL, `mysql+pymysql://user:password@host:port/database[?ssl_verify_cert=true&...]`.

    Raises:
        ArgumentError: (a `ValueError`) a scheme other than mysql, or no host.
    """
    if enable_ssl is None and host and TIDB_SERVERLESS_HOST_PATTERN.match(host):
        enable_ssl = True
    try:
        url = _TiDBURL.build(
            scheme=schema,
            host=host,
            port=port,
            username=username,
            password=quote(password) if password else None,
            path=database,
            query="ssl_verify_cert=true&ssl_verify_identity=true" if enable_ssl else None,
        )
    except ValueError as exc:
        raise ArgumentError(f"not a TiDB URL: {exc}", field="url") from None
    return str(url)


__all__ = ["TIDB_SERVERLESS_HOST_PATTERN", "build_tidb_connection_url"]
