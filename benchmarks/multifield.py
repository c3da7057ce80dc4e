"""Does embedding several fields together help? `VectorField(source_field=[...])` compositions compared.

Luma (the demo shop's catalog): `similar()` hit-rate@10 / recall@10 against the merchandisers'
related / cross-sell / up-sell links (as benchmarks/recommend_quality.py measures them).
Icecat (``--icecat``, 19,406 products, about 4 minutes of embedding per composition on 2 cores):
vector-only nDCG@10 and recall@100 on the dev split of the judged queries (as benchmarks/quality.py).
Each composition's fields are joined one per line (livevec's default); a blank field is left out.

    .venv/bin/python benchmarks/multifield.py            # Luma only, a minute
    .venv/bin/python benchmarks/multifield.py --icecat   # and Icecat (embeddings cached in .cache/)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import livevec
import quality
import recommend_quality as rq
from livevec import EmbeddingFunction, Field, TableModel

LUMA = {
    "description": ["description"],
    "name + description": ["name", "description"],
    "name + category + description": ["name", "category", "description"],
}
ICECAT = {
    "description": ["description"],
    "name + description": ["name", "description"],
    "name + brand + description": ["name", "brand", "description"],
}


def luma(model: str, seeds: int) -> None:
    rows, links, _, _ = rq.load(rq.DEFAULT_DATA)
    embed = EmbeddingFunction(model)
    print(f"Luma, {model}: similar() hit@10 / recall@10 per link kind\n")
    print("| composition | " + " | ".join(rq.KINDS) + " |\n|---|" + "---:|" * len(rq.KINDS))
    for label, sources in LUMA.items():

        class LumaProduct(TableModel):
            __tablename__ = "products"
            id: str = Field(primary_key=True)
            name: str
            description: str
            category: str
            price: float | None = None
            vec: list[float] | None = embed.VectorField(source_field=sources)

        with tempfile.TemporaryDirectory() as folder, livevec.connect(Path(folder) / "luma.db") as db:
            table = db.create_table(LumaProduct)
            table.insert(rows)
            result = rq.evaluate(livevec.Recommender(table), rows, links, seeds)
            print(f"| {label} | " + " | ".join(r[3].strip("*") for r in result) + " |", flush=True)


def icecat(model: str, only: list[str] | None = None) -> None:
    data = quality.DATA
    products = quality.load_products(data)
    queries = quality.load_queries(data)
    qrels = quality.load_qrels(data)
    dev = [q for q in queries if quality.SPLITS["dev"](q)]
    embed = EmbeddingFunction(model)
    print(f"\nIcecat, {model}: vector search on the dev split ({len(dev)} queries)\n")
    print("| composition | nDCG@10 | judged nDCG@10 | recall@100 |\n|---|---:|---:|---:|")
    for label, sources in ICECAT.items():
        if only and label not in only:
            continue

        class IcecatProduct(TableModel):
            __tablename__ = "products"
            id: str = Field(primary_key=True)
            name: str | None = None
            description: str | None = None
            brand: str | None = None
            vec: list[float] | None = embed.VectorField(source_field=sources)

        rows = [
            {k: (p[k] or None) if k != "id" else p[k] for k in ("id", "name", "description", "brand")}
            for p in products
        ]
        quality.CACHE.mkdir(parents=True, exist_ok=True)
        path = quality.CACHE / f"multifield-{'-'.join(sources)}.db"
        with livevec.connect(path) as db:
            table = db.create_table(IcecatProduct, if_exists="skip")
            if table.count() != len(rows):
                table = db.create_table(IcecatProduct, if_exists="overwrite")
                started = time.perf_counter()
                table.insert(rows)
                print(f"(embedded {label} in {time.perf_counter() - started:.0f} s)", flush=True)
            run = quality.rankings(table, quality.METHODS[0], {q: queries[q] for q in dev})
            means = quality.evaluate(run, qrels, dev)
            print(
                f"| {label} | {means['nDCG@10']:.3f} | {means['judged nDCG@10']:.3f} | {means['recall@100']:.3f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/all-MiniLM-L6-v2")
    parser.add_argument("--seeds", type=int, default=3, help="random-baseline seeds (not printed here)")
    parser.add_argument("--icecat", action="store_true", help="also the Icecat judged queries (slow)")
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="these Icecat compositions, by label")
    parser.add_argument("--no-luma", action="store_true", help="skip the Luma part")
    args = parser.parse_args()
    if not args.no_luma:
        luma(args.model, args.seeds)
    if args.icecat:
        icecat(args.model, args.only)


if __name__ == "__main__":
    main()
