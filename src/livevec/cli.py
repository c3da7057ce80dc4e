"""The `livevec` command line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import click

from ._errors import LivevecError, TableExistsError

# the library is imported by the commands that use it, not here: `livevec --help` starts at once


@click.group()
@click.version_option(package_name="livevec")
def cli() -> None:
    """Real-time recommendations from vector search with automatic embedding."""


@cli.command()
@click.argument("profile")
@click.option(
    "--db", "db_path", default="shop.db", show_default=True, help="SQLite file or postgresql:// URL"
)
@click.option("--limit", default=5, show_default=True, help="how many products")
@click.option("--max-price", type=float, help="only products up to this price")
def recommend(profile: str, db_path: str, limit: int, max_price: float | None) -> None:
    """Print the products nearest to PROFILE (loads the demo catalog on first run)."""
    from .demo import open_shop

    _, table = open_shop(db_path)
    search = table.search(profile).limit(limit)
    if max_price is not None:
        search = search.filter({"price": {"$lte": max_price}})
    for row in search.to_list():
        click.echo(f"{row['_score']:.3f}  {row['price']:8.2f}  {row['name']}  [{row['category']}]")


class _Size(click.ParamType):
    """A number of bytes: 1000000, 1MB, 50MB, 512kB (decimal units)."""

    name = "size"
    units: ClassVar[dict[str, int]] = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        found = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", value.lower())
        if found is None or found[2] not in self.units or int(found[1]) == 0:
            self.fail(f"{value!r} is not a size such as 1000000, 512kB, 1MB or 50MB", param, ctx)
        return int(found[1]) * self.units[found[2]]


def _server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `demo` and `serve` share: where to listen, who may write, how much a request may send."""
    options = [
        click.option(
            "--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: all)"
        ),
        click.option(
            "--port", default=8000, show_default=True, help="port to listen on (0 picks a free one)"
        ),
        click.option(
            "--token",
            envvar="LIVEVEC_TOKEN",
            show_envvar=True,
            help="catalog writes and shoppers' data need 'Authorization: Bearer TOKEN' (or a shopper "
            "token it mints); required beyond loopback (prefer the variable: a command line shows in ps)",
        ),
        click.option(
            "--allowed-host",
            "allowed_hosts",
            multiple=True,
            metavar="NAME",
            help="a host name the Host header may name besides loopback and the address listened on "
            "(a reverse proxy's public name; an IP network such as 10.0.0.0/8 also works; repeatable)",
        ),
        click.option(
            "--max-body", type=_Size(), default="1MB", show_default=True, help="largest request body"
        ),
        click.option(
            "--max-import", type=_Size(), default="50MB", show_default=True, help="largest import body"
        ),
        click.option(
            "--max-head",
            type=_Size(),
            default="32kB",
            show_default=True,
            help="largest request head (431 beyond)",
        ),
        click.option(
            "--head-timeout",
            type=click.FloatRange(0.1),
            default=10.0,
            show_default=True,
            help="seconds a connection has to send a whole request head",
        ),
        click.option(
            "--keep-alive",
            type=click.FloatRange(0.1),
            default=5.0,
            show_default=True,
            help="seconds an idle connection stays open between requests",
        ),
        click.option(
            "--max-connections",
            type=click.IntRange(1),
            default=1000,
            show_default=True,
            help="open connections and requests in all (503 beyond)",
        ),
        click.option(
            "--max-streams",
            type=click.IntRange(1),
            default=500,
            show_default=True,
            help="open event and recommendation streams in all (503 beyond)",
        ),
        click.option(
            "--max-streams-per-client",
            type=click.IntRange(1),
            default=20,
            show_default=True,
            help="open streams per client address (429 beyond; behind a proxy, all clients share its address)",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the shop  [default: shop.db in your data folder]",
)
@click.option(
    "--embed-fields",
    default="description",
    show_default=True,
    help="the text fields a new shop's vectors embed together, comma-separated (e.g. name,category,description)",
)
@_server_options
def demo(db_path: Path | None, embed_fields: str, **server: Any) -> None:
    """Start the live shop on a local database, loading the demo catalog on its first run."""
    web = _web()
    web.check_exposure(server["host"], server["token"])  # before the catalog takes a minute to load
    if db_path is None:
        import platformdirs

        db_path = platformdirs.user_data_path("livevec") / "shop.db"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if not db_path.exists():
        click.echo(f"First run: loading the demo catalog into {db_path} (embedding takes a minute)...")
    from .demo import open_shop

    db, _ = open_shop(db_path, [f.strip() for f in embed_fields.split(",") if f.strip()])
    db.close()
    web.serve(db_path, **_limits(web, server), on_ready=_announce(db_path))


@cli.command()
@click.option("--db", "db_url", required=True, help="SQLite file (or database URL) of the shop")
@_server_options
def serve(db_url: str, **server: Any) -> None:
    """Serve the shop (page, API and live events) on an existing database."""
    web = _web()
    if "://" not in db_url and not Path(db_url).is_file():
        raise click.BadParameter(
            f"no database file at {db_url!r} (`livevec demo --db` makes one)", param_hint="--db"
        )
    web.serve(db_url, **_limits(web, server), on_ready=_announce(db_url))


def _limits(web: Any, server: dict[str, Any]) -> dict[str, Any]:
    """The server options with the connection limits gathered into `web.ServerLimits`."""
    fields = (
        "max_head",
        "head_timeout",
        "keep_alive",
        "max_connections",
        "max_streams",
        "max_streams_per_client",
    )
    limits = web.ServerLimits(**{name: server.pop(name) for name in fields})
    return {**server, "limits": limits}


def _announce(db: str | Path) -> Callable[[str], None]:
    def ready(url: str) -> None:
        click.echo(f"livevec shop on {db}\nOpen {url}  (API docs: {url}docs; Ctrl+C stops)")

    return ready


def _web():
    try:
        from . import web
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"the shop needs {exc.name}: pip install 'livevec[web]'") from None
    return web


@cli.command("shopper-token")
@click.argument("user_id")
@click.option(
    "--token",
    envvar="LIVEVEC_TOKEN",
    show_envvar=True,
    required=True,
    help="the service token the server was started with",
)
@click.option(
    "--ttl", default=3600, show_default=True, type=click.IntRange(1, 7 * 86400), help="seconds it is good for"
)
def shopper_token(user_id: str, token: str, ttl: int) -> None:
    """Mint a shopper token for USER_ID, as POST /users/USER_ID/token does: JSON with `token` and `expires_at`."""
    import json

    web = _web()
    click.echo(json.dumps(web.shopper_token(token, user_id, ttl)))


@cli.command()
@click.argument("source")
@click.argument("target")
@click.option("--table", "tables", multiple=True, help="copy this table (repeatable); every table by default")
@click.option("--overwrite", is_flag=True, help="replace tables that already exist in TARGET")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1), help="rows per insert")
def copy(source: str, target: str, tables: tuple[str, ...], overwrite: bool, batch_size: int) -> None:
    """Copy tables with their vectors from SOURCE to TARGET, without embedding again.

    SOURCE and TARGET are SQLite files or postgresql:// URLs.
    """
    if (
        not source.startswith(("postgresql://", "postgres://"))
        and not Path(source.removeprefix("sqlite:///")).exists()
    ):
        raise click.BadParameter(f"no database file {source!r}", param_hint="SOURCE")
    from ._copy import copy_table
    from ._database import connect

    with connect(source) as src, connect(target) as dst:
        names = list(tables) or src.tables()
        for name in names:
            src.open_table(name)  # every table exists in SOURCE and none in TARGET before any is copied
            if not overwrite and name in dst.tables():
                raise TableExistsError(f"table {name!r} already exists in TARGET (--overwrite replaces it)")
        for name in names:
            count = copy_table(src, dst, name, overwrite=overwrite, batch_size=batch_size)
            click.echo(f"copied {count} rows of {name}")


@cli.command()
@click.argument("db_url", metavar="DB")
@click.argument("table_name", metavar="TABLE")
@click.argument("field", metavar="FIELD")
@click.option(
    "--model", help="the new model, e.g. local/all-mpnet-base-v2 (left out: finish the one under way)"
)
@click.option("--query-prefix", default="", help="prepended to search texts (e5: 'query: ')")
@click.option("--document-prefix", default="", help="prepended to the embedded texts (e5: 'passage: ')")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(1), help="rows per batch")
def reembed(
    db_url: str,
    table_name: str,
    field: str,
    model: str | None,
    query_prefix: str,
    document_prefix: str,
    batch_size: int,
) -> None:
    """Embed every row of TABLE's vector FIELD again with another model, then switch to it.

    DB is a SQLite file or a postgresql:// URL. Searches go on from the old vectors until the
    switch, which is one transaction. Interrupted, the same command goes on where it stopped.
    """
    from .embeddings import EmbeddingFunction

    if "://" not in db_url and not Path(db_url.removeprefix("sqlite:///")).is_file():
        raise click.BadParameter(f"no database file {db_url!r}", param_hint="DB")
    from ._database import connect

    with connect(db_url) as db:
        table = db.open_table(table_name)
        embedding = None
        if model is not None:
            embedding = EmbeddingFunction(model, query_prefix=query_prefix, document_prefix=document_prefix)
        count = table.reembed(field, embedding, batch_size=batch_size)
        vector = table.spec.vector(field)
        click.echo(
            f"re-embedded {count} rows; {table_name}.{field} is now {vector.model} "
            f"({vector.dimensions} dimensions)"
        )


def main() -> None:
    try:
        cli()
    except LivevecError as exc:
        raise SystemExit(f"livevec: {exc}") from None
