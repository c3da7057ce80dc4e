"""Which of pytidb's tests measure something livevec could do, and why the others cannot.

Every test is "applicable" unless listed here. The categories:
- "tidb": needs TiDB itself (TiFlash replicas, several databases on one server, TiDB's 32-bit INT
  overflow error, TiDB's STANDARD full-text parser).
- "paid": needs a paid or hosted service (embedding providers other than OpenAI's, image embedding,
  rerankers), or expects the exact numbers of OpenAI's own vectors, which the local server cannot give.
- "internals": tests pytidb's private functions or the SQL text it compiles.
- "skipped by pytidb": marked skip in pytidb itself.

pytidb's tests at 541868e: 122 in 17 files; 73 applicable.
"""

from __future__ import annotations

import re

_RULES: list[tuple[str, str]] = [
    # --- TiDB itself
    (r"test_tiflash_replica\.py::", "tidb"),
    (r"test_databases\.py::", "tidb"),
    (r"test_transaction\.py::test_(local|provided)_session_rollback", "tidb"),  # "Out of range" on INT
    (r"test_index_fulltext\.py::.*test_auto_with_standard_parser", "tidb"),
    # --- paid / hosted services, or OpenAI's own vectors
    (r"test_auto_embedding_image\.py::", "paid"),
    (r"test_auto_embedding_server\.py::test_auto_embedding\[(?!openai\])", "paid"),
    (r"::test_rerank", "paid"),
    (r"test_search_hybrid\.py::test_hybrid_search_", "paid"),  # expects OpenAI's distances
    (r"test_manual_with_table_api_exist_ok", "skipped by pytidb"),
    # --- pytidb internals
    (r"test_fusion\.py::", "internals"),
    (r"test_search_vector\.py::test_skip_null_vectors_sql", "internals"),
]


def category_of(nodeid: str) -> str:
    """ "applicable", or why the test cannot measure livevec ("tidb", "paid", "internals")."""
    for pattern, category in _RULES:
        if re.search(pattern, nodeid):
            return category
    return "applicable"


# the tests of each file at 541868e by category: counted (as errors) when a file fails to import
TESTS_PER_FILE: dict[str, dict[str, int]] = {
    "test_auto_embedding_image.py": {"paid": 6},
    "test_auto_embedding_server.py": {"applicable": 1, "paid": 7},
    "test_custom_embedding_function.py": {"applicable": 1},
    "test_data.py": {"applicable": 3},
    "test_databases.py": {"tidb": 4},
    "test_filter.py": {"applicable": 29},
    "test_fusion.py": {"internals": 8},
    "test_index_fulltext.py": {"applicable": 3, "tidb": 1, "skipped by pytidb": 1},
    "test_index_vector.py": {"applicable": 4},
    "test_raw_sql.py": {"applicable": 2},
    "test_search_fulltext.py": {"applicable": 2, "paid": 1},
    "test_search_hybrid.py": {"paid": 7},
    "test_search_vector.py": {"applicable": 16, "paid": 1, "internals": 3},
    "test_sql_model.py": {"applicable": 2},
    "test_tables.py": {"applicable": 4},
    "test_tiflash_replica.py": {"tidb": 8},
    "test_transaction.py": {"applicable": 6, "tidb": 2},
}
