"""How good are `Recommender.similar()` and `for_user()`? Judged by links merchandisers chose.

The Magento "Luma" sample catalog comes with 1,570 related / cross-sell / up-sell links picked by
people. For every product with links of a kind, `similar()` proposes ten products; we report
hit-rate@10 (at least one linked product among the ten) and recall@10 (share of the linked products
found), next to a baseline that draws ten random products from the same category, averaged over
several fixed seeds. A variant SKU such as `24-WG082-pink` belongs to product `24-WG082`: links and
results are compared per product, so another colour of the query product is neither a hit nor a miss.

Then it replays sessions (a new user likes three yoga products and dismisses one; a user with a
profile views and buys watches) and prints how the top 10 moves after each event, and why.

    .venv/bin/python benchmarks/recommend_quality.py [--data ../shared/data/catalog] [--seeds 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import livevec
from livevec.demo import Product

KINDS = ("related", "crosssell", "upsell")
K = 10
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "catalog"
_VARIANT = re.compile(r"^(.+)-([a-z]+)$")  # SKUs are upper case; a lower-case suffix is a colour


def product_of(sku: str) -> str:
    """The product a SKU belongs to: `24-WG082-pink` -> `24-WG082`."""
    match = _VARIANT.match(sku)
    return match.group(1) if match else sku


def load(data: Path) -> tuple[list[dict], dict[str, dict[str, set[str]]], dict[str, int], set[str]]:
    """Catalog rows; links as {kind: {product: linked products}}; links left out by reason; unknown SKUs."""
    rows = []
    for line in (data / "luma_products.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        rows.append({k: item[k] for k in ("id", "name", "description", "category", "price")})
    known = {product_of(r["id"]) for r in rows}
    links: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in KINDS}
    left_out: dict[str, int] = defaultdict(int)
    unknown: set[str] = set()
    with open(data / "luma_links.csv", newline="", encoding="utf-8") as f:
        for link in csv.DictReader(f):
            source, target = product_of(link["sku"]), product_of(link["linked_sku"])
            if source not in known or target not in known:
                unknown.update(s for s in (link["sku"], link["linked_sku"]) if product_of(s) not in known)
                left_out[f"{link['kind']} link(s) with a SKU not in the catalog"] += 1
            elif source == target:
                left_out[f"{link['kind']} link(s) between variants of one product"] += 1
            elif target in links[link["kind"]][source]:
                left_out[f"{link['kind']} link(s) repeated for another colour"] += 1
            else:
                links[link["kind"]][source].add(target)
    return rows, links, left_out, unknown


def top_products(ranked_ids: list[str], own: str) -> list[str]:
    """The first K distinct products among ranked SKUs, the query's own product left out."""
    seen: list[str] = []
    for sku in ranked_ids:
        product = product_of(sku)
        if product != own and product not in seen:
            seen.append(product)
    return seen[:K]


def scores(proposals: dict[str, list[str]], links: dict[str, set[str]]) -> tuple[float, float]:
    """(hit-rate@K, recall@K) averaged over the products that have links."""
    hits, recalls = [], []
    for product, linked in links.items():
        found = len(set(proposals[product]) & linked)
        hits.append(found > 0)
        recalls.append(found / len(linked))
    return statistics.mean(hits), statistics.mean(recalls)


def evaluate(rec: livevec.Recommender, rows: list[dict], links, seeds: int) -> list[list[str]]:
    sku_of: dict[str, str] = {}  # product -> the SKU asked about (its first variant in catalog order)
    category: dict[str, str] = {}
    for r in rows:
        sku_of.setdefault(product_of(r["id"]), r["id"])
        category.setdefault(product_of(r["id"]), r["category"])
    by_category = defaultdict(list)
    for product, cat in category.items():
        by_category[cat].append(product)

    def similar(product: str, filters: dict | None = None) -> list[str]:
        # ask for more than K SKUs: colour variants of one product collapse into one
        results = rec.similar(sku_of[product], limit=3 * K, filters=filters)
        return top_products([r.product["id"] for r in results], product)

    def random_runs(pool_of, kind_links) -> tuple[list[float], list[float]]:
        runs = []
        for seed in range(seeds):
            rng = random.Random(seed)
            picks = {}
            for p in kind_links:
                pool = [q for q in pool_of(p) if q != p]
                picks[p] = rng.sample(pool, k=min(K, len(pool)))
            runs.append(scores(picks, kind_links))
        return [h for h, _ in runs], [r for _, r in runs]

    sources = sorted({p for kind in KINDS for p in links[kind]})
    anywhere = {p: similar(p) for p in sources}
    same_category = {p: similar(p, {"category": category[p]}) for p in sources}
    table = []
    for kind in KINDS:
        kind_links = links[kind]
        pairs = [(p, q) for p, linked in kind_links.items() for q in linked]
        hit, recall = scores(anywhere, kind_links)
        hit_cat, recall_cat = scores(same_category, kind_links)
        hits_rc, recalls_rc = random_runs(lambda p: by_category[category[p]], kind_links)
        hits_r, recalls_r = random_runs(lambda _p: list(category), kind_links)
        table.append(
            [
                kind,
                f"{len(kind_links)} / {len(pairs)}",
                f"{sum(category[p] == category[q] for p, q in pairs) / len(pairs):.0%}",
                f"**{hit:.3f} / {recall:.3f}**",
                f"{hit_cat:.3f} / {recall_cat:.3f}",
                f"{_mean_sd(hits_rc)} / {_mean_sd(recalls_rc)}",
                f"{_mean_sd(hits_r)} / {_mean_sd(recalls_r)}",
                f"{hit / statistics.mean(hits_rc):.2f}× / {recall / statistics.mean(recalls_rc):.2f}×",
            ]
        )
    return table


def _mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def is_yoga(product: dict) -> bool:
    return "yoga" in (product["name"] + " " + product["description"]).lower()


TOP = None  # in a session step: whatever is recommended first at that moment
# user: (profile, events, a word whose products are counted in the top 10)
SESSIONS = {
    "yoga": (
        None,
        [("like", "24-WG084"), ("like", "240-LV04"), ("like", "24-WB01"), ("dismiss", TOP)],
        "yoga",
    ),
    "hiker": (
        "a warm jacket for winter hiking",
        [("view", "24-MG01"), ("view", "24-MG03"), ("purchase", "24-MG01")],
        "watch",
    ),
}


def session(rec: livevec.Recommender, user: str) -> str:
    """Replay one user's events and show the top 10 after each: how many are new, and why."""
    profile, events, word = SESSIONS[user]
    start = "new user (cold start)"
    if profile:
        rec.set_profile(user, profile)
        start = f"profile “{profile}”"
    steps = [(start, rec.for_user(user))]
    for kind, sku in events:
        product = steps[-1][1][0].product if sku is TOP else rec.table.get(sku).model_dump()
        rec.record(user, product["id"], kind)
        results = rec.for_user(user)
        assert kind == "view" or product["id"] not in {r.product["id"] for r in results}
        steps.append(
            (f"{kind} {product['name'].strip()}" + (" (the top one)" if sku is TOP else ""), results)
        )
    out = []
    previous: set[str] = set()
    for label, results in steps:
        current = {r.product["id"] for r in results}
        matching = sum(word in (r.product["name"] + r.product["description"]).lower() for r in results)
        reasons = defaultdict(int)
        for r in results:
            reasons[r.reason] += 1
        why = "; ".join(f"{n}× {reason}" for reason, n in sorted(reasons.items(), key=lambda x: -x[1]))
        out.append([label, str(len(current - previous)) if previous else "-", str(matching), why])
        previous = current
    return markdown(["after", "new in the top 10", f"“{word}” products", "reasons given"], out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder with luma_products.jsonl and luma_links.csv"
    )
    parser.add_argument("--seeds", type=int, default=10, help="random-baseline seeds to average")
    args = parser.parse_args()
    rows, links, left_out, unknown = load(args.data)
    with tempfile.TemporaryDirectory() as folder, livevec.connect(Path(folder) / "luma.db") as db:
        started = time.perf_counter()
        table = db.create_table(Product)
        table.insert(rows)
        rec = livevec.Recommender(table)
        print(
            f"{len(rows)} Luma products ({len({product_of(r['id']) for r in rows})} once colour variants are merged), "
            f"embedded with {table.embedding_function('description_vec').model_name} in {time.perf_counter() - started:.0f} s"
        )
        print(
            "links used per kind: "
            + ", ".join(f"{k} {sum(len(v) for v in links[k].values())}" for k in KINDS)
        )
        print("links left out: " + "; ".join(f"{n} {why}" for why, n in sorted(left_out.items())))
        print(f"SKUs in links but not in the catalog: {', '.join(sorted(unknown))}")
        print()
        header = [
            "link kind",
            "products / links",
            "linked product in the same category",
            "similar() hit@10 / recall@10",
            "similar() within the category",
            f"same-category random ({args.seeds} seeds, mean ± sd)",
            f"catalog random ({args.seeds} seeds)",
            "similar() ÷ same-category random",
        ]
        print(markdown(header, evaluate(rec, rows, links, args.seeds)))
        print()
        for user in SESSIONS:
            print(f"\nSession “{user}”:\n")
            print(session(rec, user))


if __name__ == "__main__":
    main()
