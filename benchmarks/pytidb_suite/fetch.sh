#!/bin/sh
# pytidb's tests at the commit measured, into ./tests (kept out of the project: `git status` ignores
# them through .gitignore here). Needs git and the network, once.
set -eu
cd "$(dirname "$0")"
COMMIT=541868e
rm -rf tests pytidb-src
git clone --quiet https://github.com/pingcap/pytidb.git pytidb-src
git -C pytidb-src archive "$COMMIT" tests | tar -x
rm -rf pytidb-src
rm tests/conftest.py  # it connects to a TiDB server; ../conftest.py replaces it
echo "pytidb's tests at $COMMIT are in $(pwd)/tests"
