"""`Table`: validated writes that embed their source text automatically, reads and searches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pydantic
from tqdm.auto import tqdm

from ._errors import DuplicateKeyError, ValidationError
from ._schema import INT64_MAX, NO_TEXT_HASH, TableModel, TableSpec, VectorSpec, shown, unstorable
from .embeddings import EmbeddingFunction
from .embeddings._function import text_hash
from .filters import Filters, compile_filters
from .search import QueryResult, Search, SearchType

if TYPE_CHECKING:
    from .storage import Backend

Row = TableModel | Mapping[str, Any]


class Table:
    """A table of a `Database`: validated writes that embed their source texts, reads and searches.

    Get one from `db.create_table(...)` or `db.open_table(name)`; a table handle is cheap, and every
    handle, in any process, sees every committed write.

    Usage:
        ```python
        table = db.create_table(schema=Product, if_exists="skip")
        table.insert(Product(id=1, name="Yoga mat", description="A non-slip mat", category="fitness", price=20.0))
        table.search("a user likes sports").limit(5).to_list()
        ```

    Parameters:
        backend: the store the table lives in.
        spec: the stored description of its columns.
        model: the `TableModel` class its rows come back as.
        embeddings: the embedding function of each vector column that has a source text.
    """

    def __init__(
        self,
        backend: Backend,
        spec: TableSpec,
        model: type[TableModel],
        embeddings: dict[str, EmbeddingFunction],
    ) -> None:
        self.backend = backend
        self.spec = spec
        self._stored_spec: Any = None  # the spec as `search_state` last read it
        self.model = model
        self._embeddings = embeddings

    def __repr__(self) -> str:
        return f"<Table {self.name!r} {self.backend.url!r}>"

    @property
    def name(self) -> str:
        return self.spec.name

    def embedding_function(self, vector_field: str) -> EmbeddingFunction:
        """The embedding function that computes a vector column.

        Parameters:
            vector_field: the vector column.

        Returns:
            Its `EmbeddingFunction`.

        Raises:
            ValidationError: the column's vectors are given by the caller (it has no model).
        """
        if vector_field not in self._embeddings:
            raise ValidationError(
                "has no embedding model: its vectors are given by the caller, so search it with a vector",
                field=vector_field,
            )
        return self._embeddings[vector_field]

    # --- writes -------------------------------------------------------------------------------

    @overload
    def insert(self, data: Row) -> TableModel: ...
    @overload
    def insert(self, data: Sequence[Row]) -> list[TableModel]: ...
    def insert(self, data: Row | Sequence[Row]) -> TableModel | list[TableModel]:
        """Add rows, embedding the source texts that came without a vector. All rows or none.

        An `int` primary key left out (or None) is assigned by the store, one past the largest, and set
        on the returned model.

        Usage:
            ```python
            mat = table.insert(Product(name="Yoga mat", description="A cork mat", category="fitness", price=20.0))
            print(mat.id)
            table.insert([{"id": 2, "name": "Ball", "description": "A ball", "category": "sports", "price": 9.0}])
            ```

        Parameters:
            data: a row (a model instance or a dict) or a list of them.

        Returns:
            The row as stored (a model instance), or a list of them for a list.

        Raises:
            ValidationError: a value does not fit its field (its `field` names it); nothing is written.
            DuplicateKeyError: a primary key is already in the table, or twice in the list.
            EmbeddingError: the model failed.
        """
        return self._write(data, upsert=False)

    @overload
    def upsert(self, data: Row) -> TableModel: ...
    @overload
    def upsert(self, data: Sequence[Row]) -> list[TableModel]: ...
    def upsert(self, data: Row | Sequence[Row]) -> TableModel | list[TableModel]:
        """Insert rows, or replace the rows with the same primary key. All rows or none.

        A replaced row whose source text did not change keeps its vector: nothing is embedded again.

        Parameters:
            data: a row (a model instance or a dict) or a list of them; for a key given twice, the last
                row wins.

        Returns:
            The row as stored (a model instance), or a list of them for a list.

        Raises:
            ValidationError: a value does not fit its field; nothing is written.
            EmbeddingError: the model failed.
        """
        return self._write(data, upsert=True)

    def _write(self, data: Row | Sequence[Row], *, upsert: bool) -> TableModel | list[TableModel]:
        self._sync()
        single = isinstance(data, TableModel | Mapping)
        rows = [self._validate_row(r, i) for i, r in enumerate([data] if single else data)]
        pk = self.spec.primary_key.name
        keys = [r[pk] for r in rows if r[pk] is not None]
        if len(set(keys)) != len(keys):
            if not upsert:
                dup = next(k for k in keys if keys.count(k) > 1)
                raise DuplicateKeyError(f"key {dup!r} appears twice in the batch", field=pk)
            latest = {r[pk]: r for r in rows if r[pk] is not None}  # the last row for a key wins
            rows = [r for r in rows if r[pk] is None] + list(latest.values())
        # an insert looks for its keys first only to fail before embedding; with nothing to embed
        # the primary key's constraint fails it just as well
        embeds = any(
            r[v.name] is None and v.compose(r) is not None
            for r in rows
            for v in self.spec.vectors
            if v.hash_column
        )
        existing = {r[pk]: r for r in self._existing(keys)} if upsert or embeds else {}
        if existing and not upsert:
            raise DuplicateKeyError(f"key {next(iter(existing))!r} already exists", field=pk)
        self._embed_rows(rows, existing)
        stored = self.backend.insert(self.spec, rows, upsert=upsert)
        for row, key in zip(rows, stored, strict=True):
            row[pk] = key
        hidden = set(self.spec.hash_columns)
        models = [self.model.model_validate(_as_lists(r, hidden)) for r in rows]
        return models[0] if single else models

    def _existing(self, keys: list[Any]) -> list[dict[str, Any]]:
        if not keys:
            return []
        columns = [self.spec.primary_key.name]
        for v in self.spec.vectors:
            columns += [v.name] + ([v.hash_column] if v.hash_column else [])
        pk = self.spec.primary_key.name
        found = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found += self.backend.select(
                self.spec, {pk: {"$in": chunk}}, columns=list(dict.fromkeys(columns))
            )
        return found

    def _embed_rows(self, rows: list[dict[str, Any]], existing: dict[Any, dict[str, Any]]) -> None:
        """Fill each missing vector: kept from the stored row if it was embedded from the same text
        (its stored hash says so), else embedded; and set the hash of the text each vector is for."""
        pk = self.spec.primary_key.name
        for vector in self.spec.vectors:
            if not vector.hash_column:
                continue
            todo, texts = [], []
            for row in rows:
                text = vector.compose(row)
                digest = NO_TEXT_HASH if text is None else text_hash(text)
                row[vector.hash_column] = digest
                if row[vector.name] is not None or text is None:
                    continue
                old = existing.get(row[pk])
                if old and old[vector.hash_column] == digest and old[vector.name] is not None:
                    row[vector.name] = np.asarray(old[vector.name], dtype=np.float32)
                else:
                    todo.append(row)
                    texts.append(text)
            if todo:
                fn = self.embedding_function(vector.name)
                vectors = fn.embed_documents(texts, cache=self.backend)
                for row, v in zip(todo, vectors, strict=True):
                    row[vector.name] = v

    def update(self, values: Mapping[str, Any], filters: Filters | None) -> int:
        """Set `values` on the rows matching `filters`; re-embed only where a source text changes.

        With several source fields, each row's text is composed from its own fields and the new
        values, so rows may get different vectors; each distinct text is embedded once.

        Usage:
            ```python
            table.update(values={"price": 18.0}, filters={"id": 1})                  # embeds nothing
            table.update(values={"description": "A cork mat"}, filters={"id": 1})   # re-embeds this row
            ```

        Parameters:
            values: field name to new value.
            filters: the rows to change, in the filter language (`{}`: every row).

        Returns:
            How many rows were changed.

        Raises:
            ValidationError: `values` is empty, `filters` is None, or a value does not fit its field.
            FilterError: the filter is malformed or names an unknown field.
            EmbeddingError: the model failed; nothing is written.
        """
        if not isinstance(values, Mapping) or not values:
            raise ValidationError("give a non-empty dict of field: value", field="values")
        if filters is None:
            raise ValidationError("give filters (use {} to update every row)", field="filters")
        compile_filters(filters, self.spec)
        values = {name: self._validate_value(name, v) for name, v in values.items()}
        self._sync()
        # vectors whose text (or the vector itself) this update sets: their rows are handled one by one
        handled = [
            v
            for v in self.spec.vectors
            if v.hash_column and (v.name in values or any(s in values for s in v.sources))
        ]
        if not handled:
            return self.backend.update(self.spec, values, filters)
        # Which rows change text, and the writes, see the same rows: read inside the transaction, a
        # concurrent writer cannot change a text in between and leave it with another text's vector.
        with self.backend.transaction():
            changing, unchanged = [], []
            for vector in handled:
                if vector.name in values:
                    changing = None  # the vector is given: every matching row gets it, and its hash
                    break
                for s in (s for s in vector.sources if s in values):
                    text = values[s]
                    if text is None:
                        changing.append({s: {"$ne": None}})
                        unchanged.append({s: None})
                    else:
                        changing.append({"$or": [{s: {"$ne": text}}, {s: None}]})
                        unchanged.append({s: text})
            pk = self.spec.primary_key.name
            where = filters
            if changing is not None:
                where = {"$and": [filters, {"$or": changing}]} if filters else {"$or": changing}
            sources = list(dict.fromkeys(s for v in handled for s in v.sources))
            rows = self.backend.select(self.spec, where, columns=[pk, *sources])
            count = 0
            if changing is not None:  # the rows whose text stays: no vector work
                rest = {"$and": [filters, *unchanged]} if filters else {"$and": unchanged}
                count += self.backend.update(self.spec, values, rest)
            if not rows:
                return count
            for row in rows:
                row.update((s, values[s]) for s in sources if s in values)
            extra: list[dict[str, Any]] = [{} for _ in rows]
            for vector in handled:
                texts = [vector.compose(row) for row in rows]
                for item, text in zip(extra, texts, strict=True):
                    item[vector.hash_column] = NO_TEXT_HASH if text is None else text_hash(text)
                    if vector.name in values:
                        item[vector.name] = values[vector.name]
                    elif text is None:
                        item[vector.name] = None
                todo = [(item, t) for item, t in zip(extra, texts, strict=True) if vector.name not in item]
                if todo:
                    fn = self.embedding_function(vector.name)
                    embedded = fn.embed_documents([t for _, t in todo], cache=self.backend)
                    for (item, _), v in zip(todo, embedded, strict=True):
                        item[vector.name] = v
            # one statement per distinct set of new vectors: values, vectors and hashes together
            groups: dict[tuple, list[Any]] = {}
            sets: dict[tuple, dict[str, Any]] = {}
            for row, item in zip(rows, extra, strict=True):
                group = tuple(item[v.hash_column] for v in handled)
                groups.setdefault(group, []).append(row[pk])
                sets[group] = item
            for group, keys in groups.items():
                for start in range(0, len(keys), 500):
                    chunk = {pk: {"$in": keys[start : start + 500]}}
                    count += self.backend.update(self.spec, {**values, **sets[group]}, chunk)
            return count

    def refresh(self, vector_field: str | None = None, *, batch_size: int = 256) -> int:
        """Embed again the rows whose source text was written by another client.

        The sqlite3 shell, psql, another program or `db.execute` change a text without its stored text
        hash, which a trigger then clears. Searches and live queries call this before they rank, so they
        never rank by a stale vector; call it yourself to pay for the embedding at a time of your choosing.

        Usage:
            ```python
            db.execute("UPDATE products SET description = 'A cork mat' WHERE id = 1")
            products.refresh()  # 1
            ```

        Parameters:
            vector_field: the vector column to bring up to date; every one by default.
            batch_size: rows embedded and written per transaction.

        Returns:
            How many rows were embedded again.

        Raises:
            ValidationError: `vector_field` is not a vector column.
        """
        self._sync()
        if vector_field is not None and self.spec.vector(vector_field) is None:
            raise ValidationError(
                f"not a vector field; the table has {[v.name for v in self.spec.vectors]}", field=vector_field
            )
        done = 0
        for vector in self.spec.vectors:
            if not vector.hash_column or vector_field not in (None, vector.name):
                continue
            while True:
                stale = self.backend.stale_rows(self.spec, vector, batch_size)
                if not stale:
                    break
                texts = [vector.compose(row) for row in stale]
                wanted = [t for t in texts if t is not None]
                fn = self.embedding_function(vector.name)
                embedded = iter(fn.embed_documents(wanted, cache=self.backend) if wanted else [])
                pk = self.spec.primary_key.name
                fixes = [
                    (
                        row[pk],
                        {s: row[s] for s in vector.sources},
                        None if text is None else next(embedded),  # no text: the vector stays as it is
                        NO_TEXT_HASH if text is None else text_hash(text),
                    )
                    for row, text in zip(stale, texts, strict=True)
                ]
                fixed = self.backend.set_vectors(self.spec, vector, fixes)
                done += fixed
                if not fixed:  # every one changed again meanwhile: the next call sees the new texts
                    break
        return done

    def reembed(
        self,
        vector_field: str,
        embedding: EmbeddingFunction | None = None,
        *,
        batch_size: int = 256,
        progress: bool = True,
        background: bool = False,
    ) -> int | Reembedding:
        """Embed every row's text again with another model, then switch the column to it.

        Searches and writes go on meanwhile, from the old vectors: the new ones are written beside
        them (a shadow table, in batches, each one a transaction) and swapped in by one transaction
        once every row has one for its current text; rows written meanwhile are embedded again
        before the swap. The stored schema then names the new model and dimensions, and every table
        handle, in any process, adopts it at its next search or write. Killed half-way, it keeps
        what it did: call it again (`embedding` may be left out then) and it goes on from there.
        `livevec reembed` does the same from the command line.

        Usage:
            ```python
            table.reembed("description_vec", embedding=EmbeddingFunction("local/all-mpnet-base-v2"))
            job = table.reembed("description_vec", embedding=..., background=True, progress=False)
            job.wait()  # the rows re-embedded; raises what the reembed raised
            ```

        Parameters:
            vector_field: the vector column.
            embedding: the new model (other prefixes, or dimensions, are fine); None goes on with the
                reembed under way.
            batch_size: rows per batch (each batch is one transaction).
            progress: show a progress bar.
            background: run on a thread of its own and return a `Reembedding` at once.

        Returns:
            How many rows were embedded, or with `background=True`, the `Reembedding` under way.

        Raises:
            ValidationError: `vector_field` is not a vector column with a source text, `embedding` is not
                an `EmbeddingFunction` (or None with no reembed under way), or `batch_size` is not a
                positive integer.
            EmbeddingError: the model failed; the batches done are kept.
        """
        if background:
            return Reembedding(
                lambda: self.reembed(vector_field, embedding, batch_size=batch_size, progress=progress)
            )
        self._sync()
        vector = self.spec.vector(vector_field) if isinstance(vector_field, str) else None
        if vector is None:
            raise ValidationError(
                f"not a vector field; the table has {[v.name for v in self.spec.vectors]}",
                field=str(vector_field),
            )
        if not vector.hash_column:
            raise ValidationError(
                "has no source text to embed: its vectors are given by the caller", field=vector.name
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError(f"must be a positive integer, got {batch_size!r}", field="batch_size")
        pending = self.spec.reembedding.get(vector.name)
        if embedding is None:
            if pending is None:
                raise ValidationError(
                    "give embedding=EmbeddingFunction(...): no reembed of it is under way", field=vector.name
                )
            target = VectorSpec(**pending)
            embedding = EmbeddingFunction(target.model, **target.model_options)
        elif not isinstance(embedding, EmbeddingFunction):
            raise ValidationError(f"expected an EmbeddingFunction, got {embedding!r}", field="embedding")
        else:
            target = replace(
                vector,
                dimensions=embedding.dimensions,
                model=embedding.model_name,
                model_options=embedding.stored_options(),
            )
        self.backend.reembed_begin(self.spec, target)
        self._sync()
        pk = self.spec.primary_key.name
        done, total = self.backend.reembed_progress(self.spec, vector)
        embedded = 0
        with tqdm(
            total=total,
            initial=done,
            desc=f"reembedding {self.name}.{vector.name}",
            unit="row",
            disable=not progress,
        ) as bar:
            while True:
                self.refresh(vector.name)  # a row another client changed: its text hash first
                after = None
                while batch := self.backend.reembed_todo(self.spec, vector, after, batch_size):
                    texts = [vector.compose(row) for row in batch]
                    wanted = [t for t in texts if t is not None]
                    vectors = iter(embedding.embed_documents(wanted, cache=self.backend) if wanted else [])
                    items = [
                        (row[pk], None, NO_TEXT_HASH) if t is None else (row[pk], next(vectors), text_hash(t))
                        for row, t in zip(batch, texts, strict=True)
                    ]
                    self.backend.reembed_store(self.spec, vector, items)
                    embedded += len(batch)
                    after = batch[-1][pk]
                    bar.total = max(bar.total, bar.n + len(batch))
                    bar.update(len(batch))
                if self.backend.reembed_finish(self.spec, target) == 0:
                    break
        self._sync()
        self._embeddings[vector.name] = embedding
        return embedded

    def _sync(self) -> None:
        """Adopt the stored schema if another table handle (or process) changed it: a finished
        `reembed` changes a vector's model and dimensions. Parsed only when its stored form changed."""
        stored_form, _ = self.backend.search_state(self.spec, None)
        if stored_form is not None and stored_form == self._stored_spec:
            return
        stored = self.backend.load_spec(self.name)
        if stored is not None and stored != self.spec:
            self._adopt(stored)
        self._stored_spec = stored_form

    def _synced_spec(self) -> TableSpec:
        """The spec after `_sync()` (another object than before if the stored one changed)."""
        self._sync()
        return self.spec

    def _adopt(self, stored: TableSpec) -> None:
        embeddings = {}
        for v in stored.vectors:
            if not v.model:
                continue
            mine = self._embeddings.get(v.name)
            if mine is not None and mine.model_name == v.model and mine.stored_options() == v.model_options:
                embeddings[v.name] = mine
            else:
                embeddings[v.name] = EmbeddingFunction(v.model, **v.model_options)
        self.spec, self._embeddings = stored, embeddings

    def _before_search(self, vector_column: str | None) -> None:
        """What a vector search does before it ranks: adopt a changed schema, embed stale rows.
        One indexed read when there is nothing to do."""
        vectors = self.spec.vectors
        name = vector_column or (vectors[0].name if len(vectors) == 1 else None)
        vector = self.spec.vector(name) if name else None
        stored, stale = self.backend.search_state(self.spec, vector)
        if stored != self._stored_spec:
            self._sync()
        if stale:
            self.refresh(name)

    def delete(self, filters: Filters | None) -> int:
        """Remove the rows matching `filters`.

        Parameters:
            filters: the rows to remove, in the filter language (`{}` removes every row).

        Returns:
            How many rows were removed.

        Raises:
            ValidationError: `filters` is None (say `{}` to remove every row).
            FilterError: the filter is malformed or names an unknown field.
        """
        if filters is None:
            raise ValidationError("give filters (use {} to delete every row)", field="filters")
        return self.backend.delete(self.spec, filters)

    # --- reads --------------------------------------------------------------------------------

    def get(self, key: Any) -> TableModel | None:
        """The row with this primary key.

        Parameters:
            key: the primary key.

        Returns:
            The row as a model instance, or None when there is none.
        """
        rows = self.backend.select(self.spec, {self.spec.primary_key.name: key}, limit=1)
        return self.model.model_validate(rows[0]) if rows else None

    def count(self, filters: Filters | None = None) -> int:
        """How many rows match `filters`.

        Parameters:
            filters: in the filter language; None or `{}` counts every row.

        Returns:
            The number of rows.
        """
        return self.backend.count(self.spec, filters)

    def query(
        self,
        filters: Filters | None = None,
        *,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> QueryResult:
        """Rows matching `filters`, by primary key or `order_by`, a page at a time.

        Usage:
            ```python
            table.query({"category": "fitness"}, order_by="-price", limit=10).to_list()
            ```

        Parameters:
            filters: a dict in the filter language or a SQL condition (`"price < 50"`);
                None or `{}` for every row.
            order_by: a field, "-field" for descending, or a list of them; the primary key by default.
            limit: at most this many rows (None: all).
            offset: rows skipped first.

        Returns:
            A `QueryResult`: `.to_list()`, `.to_pandas()` or `.to_pydantic()`.

        Raises:
            ValidationError: `order_by` names an unknown field, or `limit` or `offset` is not an integer
                from 0 to 2**63 - 1.
            FilterError: the filter is malformed or names an unknown field.
        """
        order = None
        if order_by is not None:
            order = []
            for item in [order_by] if isinstance(order_by, str) else order_by:
                name = item.lstrip("-")
                if self.spec.column(name) is None:
                    raise ValidationError(
                        f"unknown field; the table has {self.spec.column_names}", field=name
                    )
                order.append((name, item.startswith("-")))
        for name, value in (("limit", 0 if limit is None else limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
                raise ValidationError(
                    f"must be an integer from 0 to 2**63 - 1, got {shown(value)}", field=name
                )
        rows = self.backend.select(self.spec, filters, order_by=order, limit=limit, offset=offset)
        return QueryResult(rows, self.model)

    def search(
        self,
        query: str | Sequence[float] | np.ndarray,
        *,
        search_type: SearchType = "vector",
        vector_column: str | None = None,
    ) -> Search:
        """Rows ranked for a text or a vector: a generative `Search` builder, run by `to_list()`.

        Usage:
            ```python
            (table.search("a user likes sports")
                  .filter({"price": {"$lt": 50}})
                  .distance_threshold(0.85)
                  .limit(5)
                  .to_list())
            ```

        Parameters:
            query: a text (embedded with the column's model, or matched by full-text search) or a vector.
            search_type: "vector" (nearest to the text embedded with the column's model, or to a
                vector), "fulltext" (BM25 on the `Field(fulltext=True)` columns) or "hybrid" (both, fused).
            vector_column: the vector column to search; the table's only one by default.

        Returns:
            The `Search`, to narrow with `.filter()`, `.limit()`... and run with `.to_list()`.
        """
        search = Search(self, query, search_type)
        return search.vector_column(vector_column) if vector_column else search

    # --- validation ---------------------------------------------------------------------------

    def _validate_row(self, row: Row, position: int) -> dict[str, Any]:
        if isinstance(row, TableModel):
            row = row.model_dump()
        if not isinstance(row, Mapping):
            raise ValidationError(
                f"row {position} is a {type(row).__name__}, expected a dict or {self.model.__name__}"
            )
        unknown = [k for k in row if self.spec.column(k) is None]
        if unknown:
            raise ValidationError(f"unknown field; the table has {self.spec.column_names}", field=unknown[0])
        vectors = {v.name: row.get(v.name) for v in self.spec.vectors}
        plain = {k: v for k, v in row.items() if k not in vectors}
        try:
            checked = self.model.model_validate(plain).model_dump()
        except pydantic.ValidationError as exc:
            raise _from_pydantic(exc, f"row {position}: ") from None
        for name, value in checked.items():
            reason = unstorable(value, in_json=self.spec.column(name).type == "json")
            if reason:
                raise ValidationError(f"row {position}: {reason}", field=name)
        for vector in self.spec.vectors:
            given = vectors[vector.name]
            checked[vector.name] = None if given is None else self.check_vector(vector, given, vector.name)
            present = [s for s in vector.sources if checked[s] is not None]
            if given is None and present and vector.compose(checked) is None:
                raise ValidationError(
                    f"is empty: there is no text to embed into {vector.name}", field=present[0]
                )
        pk = self.spec.primary_key
        if checked[pk.name] is None and not (pk.type == "int"):
            raise ValidationError("the primary key is required", field=pk.name)
        return checked

    def _validate_value(self, name: str, value: Any) -> Any:
        column = self.spec.column(name)
        if column is None:
            raise ValidationError(f"unknown field; the table has {self.spec.column_names}", field=name)
        vector = self.spec.vector(name)
        if vector is not None:
            return None if value is None else self.check_vector(vector, value, name)
        try:
            value = self._adapters[name].validate_python(value)
        except pydantic.ValidationError as exc:
            raise ValidationError(exc.errors()[0]["msg"], field=name) from None
        reason = unstorable(value, in_json=column.type == "json")
        if reason:
            raise ValidationError(reason, field=name)
        if column.primary_key and value is None:
            raise ValidationError("the primary key cannot be null", field=name)
        if value is not None and any(v.source_field == name for v in self.spec.vectors) and not value.strip():
            raise ValidationError("is empty: there is no text to embed", field=name)  # its vector's one field
        return value

    @cached_property
    def _adapters(self) -> dict[str, pydantic.TypeAdapter]:
        return {
            name: pydantic.TypeAdapter(info.annotation)
            for name, info in self.model.model_fields.items()
            if self.spec.vector(name) is None
        }

    def check_vector(self, vector: VectorSpec, value: Any, field: str) -> np.ndarray:
        """A value given for a vector column, checked.

        Parameters:
            vector: the column.
            value: the vector given (a list of numbers or an array).
            field: the name a `ValidationError` gives.

        Returns:
            The vector as a float32 array.

        Raises:
            ValidationError: not a list of numbers, the wrong length, NaN or infinity, or (for cosine
                distance) all zeros.
        """
        try:
            array = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValidationError(f"expected a list of {vector.dimensions} numbers", field=field) from None
        if array.ndim != 1 or len(array) != vector.dimensions:
            raise ValidationError(
                f"expected a vector of {vector.dimensions} numbers, got shape {array.shape}", field=field
            )
        if not np.isfinite(array).all():
            raise ValidationError("the vector contains NaN or infinity", field=field)
        if vector.distance == "cosine" and not array.any():
            raise ValidationError("a zero vector has no direction for cosine distance", field=field)
        return array


class Reembedding:
    """A `Table.reembed(..., background=True)` under way on its own thread.

    Usage:
        ```python
        job = table.reembed("description_vec", embedding=EmbeddingFunction("local/all-MiniLM-L6-v2"), background=True)
        while not job.done:
            ...
        rows = job.wait()
        ```

    Parameters:
        run: the reembed to run; it returns how many rows it embedded.
    """

    def __init__(self, run: Callable[[], int]) -> None:
        self._run = run
        self._result: int | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="livevec-reembed", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self._result = self._run()
        except BaseException as exc:  # handed to whoever waits
            self._error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the reembed to finish.

        Parameters:
            timeout: the longest wait, in seconds (None: as long as it takes).

        Returns:
            The number of rows re-embedded once it is done, or None if `timeout` passed first.

        Raises:
            LivevecError: whatever the reembed raised, if it failed.
        """
        self._thread.join(timeout)
        if self._thread.is_alive():
            return None
        if self._error is not None:
            raise self._error
        return self._result


def _from_pydantic(exc: pydantic.ValidationError, where: str = "") -> ValidationError:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or None
    if error["type"] == "extra_forbidden":
        return ValidationError(f"{where}unknown field", field=field)
    return ValidationError(f"{where}{error['msg']} (got {shown(error.get('input'))})", field=field)


def _as_lists(row: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items() if k not in hidden}
