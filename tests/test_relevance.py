"""Relevance: distances put on one scale for every calibrated model (`_relevance`, `relevance_threshold`)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec.embeddings import calibration

from .models import CATALOG, embed

MINILM = embed.model_name


def test_relevance_falls_with_distance_and_distance_for_inverts_it():
    for model, knots in calibration.KNOTS.items():
        xs, ys = zip(*knots, strict=True)
        assert list(xs) == sorted(xs) and all(0.0 <= x <= 2.0 for x in xs), model
        assert all(a >= b for a, b in itertools.pairwise(ys)) and all(0.0 <= y <= 1.0 for y in ys), model
        assert ys[0] > ys[-1], model  # a map that says something
        grid = np.linspace(0.0, 2.0, 201)
        assert np.all(np.diff(calibration.relevance(grid, knots)) <= 1e-12), model
        for r in np.linspace(ys[-1] + 0.01, ys[0] - 0.01, 7):
            d = calibration.distance_for(r, knots)
            assert calibration.relevance(d, knots) == pytest.approx(r, abs=1e-9), model
            assert calibration.relevance(d + 1e-3, knots) < r + 1e-9, model
    knots = [(0.2, 0.9), (0.5, 0.5), (0.8, 0.1)]
    assert calibration.distance_for(0.95, knots) == 0.0  # nothing is that relevant
    assert calibration.distance_for(0.05, knots) == 2.0  # everything is
    assert calibration.distance_for(0.7, knots) == pytest.approx(0.35)


def test_the_packaged_models_are_calibrated():
    from livevec.embeddings.local import PACKAGED_MODELS

    assert {f"local/{m}" for m in PACKAGED_MODELS} | {livevec.embeddings.DEFAULT_MODEL} <= set(
        calibration.KNOTS
    )


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    name: str
    description: str = Field(fulltext=True)
    description_vec: list[float] = embed.VectorField(source_field="description")
    category: str
    price: float


@pytest.mark.backends("sqlite")
def test_results_carry_the_relevance_of_their_distance(db):
    products = db.create_table(schema=Item)
    products.insert(CATALOG)
    knots = calibration.KNOTS[MINILM]
    rows = products.search("yoga").limit(8).to_list()
    for r in rows:
        assert r["_relevance"] == pytest.approx(float(calibration.relevance(r["_distance"], knots)), abs=1e-4)
    relevances = [r["_relevance"] for r in rows]
    assert relevances == sorted(relevances, reverse=True)
    hybrid = products.search("yoga mat", search_type="hybrid").limit(8).to_list()
    for r in hybrid:
        assert r["_relevance"] == pytest.approx(float(calibration.relevance(r["_distance"], knots)), abs=1e-4)
    (hit,) = products.search("yoga").limit(1).to_pydantic()
    assert hit.relevance == pytest.approx(rows[0]["_relevance"], abs=1e-4)


@pytest.mark.backends("sqlite")
def test_a_relevance_threshold_keeps_the_rows_at_least_that_relevant(products):
    every = products.search("a user likes sports").limit(8).to_list()
    relevances = sorted({r["_relevance"] for r in every})
    cut = (relevances[len(relevances) // 2 - 1] + relevances[len(relevances) // 2]) / 2
    kept = products.search("a user likes sports").relevance_threshold(cut).limit(8).to_list()
    assert [r["id"] for r in kept] == [r["id"] for r in every if r["_relevance"] >= cut]
    assert 0 < len(kept) < len(every)
    assert products.search("a user likes sports").relevance_threshold(0.0).limit(8).to_list() == every
    # the same as the distance threshold it stands for
    bound = calibration.distance_for(cut, calibration.KNOTS[MINILM])
    assert products.search("a user likes sports").distance_threshold(bound).limit(8).to_list() == kept


@pytest.mark.backends("sqlite")
def test_relevance_needs_a_calibrated_model_used_as_calibrated(db):
    other = EmbeddingFunction(MINILM, query_prefix="query: ")  # not how the model was calibrated

    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        text: str = Field(fulltext=True)
        vec: list[float] = other.VectorField(source_field="text")

    notes = db.create_table(schema=Note)
    notes.insert([{"id": 1, "text": "a mat for yoga"}, {"id": 2, "text": "a kettle"}])
    assert [r["_relevance"] for r in notes.search("yoga").to_list()] == [None, None]
    with pytest.raises(livevec.ValidationError, match="no calibration") as error:
        notes.search("yoga").relevance_threshold(0.5)
    assert error.value.field == "relevance_threshold"
    with pytest.raises(livevec.ValidationError, match="relevance_threshold"):
        db.open_table("notes").search("yoga").relevance_threshold(1.5)
    # full-text results have no distance, so no relevance either
    assert [r["_relevance"] for r in notes.search("yoga", search_type="fulltext").to_list()] == [None]
