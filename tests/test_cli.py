"""The command line runs the same calls as the library, on a real database file."""

from __future__ import annotations

from click.testing import CliRunner

import livevec
from livevec.cli import cli
from livevec.demo import load_catalog


def test_recommend_loads_the_catalog_once_and_ranks_by_profile(tmp_path):
    path = tmp_path / "shop.db"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["recommend", "coffee for my morning espresso", "--db", str(path), "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and "Coffee" in lines[0]
    with livevec.connect(path) as db:
        assert db.open_table("products").count() == len(load_catalog())
    cheap = runner.invoke(cli, ["recommend", "yoga", "--db", str(path), "--max-price", "10"])
    assert cheap.exit_code == 0
    prices = [float(line.split()[1]) for line in cheap.stdout.strip().splitlines()]
    assert prices and max(prices) <= 10


def test_the_bundled_catalog_is_complete():
    products = load_catalog()
    assert len(products) == 393 and len({p["id"] for p in products}) == 393
    assert all(p["name"] and p["description"] for p in products)
