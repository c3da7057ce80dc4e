"""Compatibility layers: other libraries' APIs on top of livevec (`livevec.compat.pytidb`)."""
