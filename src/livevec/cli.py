"""The `livevec` command line."""

from __future__ import annotations

import click

from ._errors import LivevecError
from .demo import open_shop


@click.group()
@click.version_option(package_name="livevec")
def cli() -> None:
    """Real-time recommendations from vector search with automatic embedding."""


@cli.command()
@click.argument("profile")
@click.option("--db", "db_path", default="shop.db", show_default=True, help="SQLite file of the shop")
@click.option("--limit", default=5, show_default=True, help="how many products")
@click.option("--max-price", type=float, help="only products up to this price")
def recommend(profile: str, db_path: str, limit: int, max_price: float | None) -> None:
    """Print the products nearest to PROFILE (loads the demo catalog on first run)."""
    _, table = open_shop(db_path)
    search = table.search(profile).limit(limit)
    if max_price is not None:
        search = search.filter({"price": {"$lte": max_price}})
    for row in search.to_list():
        click.echo(f"{row['_score']:.3f}  {row['price']:8.2f}  {row['name']}  [{row['category']}]")


def main() -> None:
    try:
        cli()
    except LivevecError as exc:
        raise SystemExit(f"livevec: {exc}") from None
