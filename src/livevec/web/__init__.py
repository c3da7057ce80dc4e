"""The live shop: product API, recommendations, a stream of changes and the page, served by FastAPI.

Needs the `web` extra: `pip install 'livevec[web]'`.
"""

from ._app import create_app
from ._server import serve

__all__ = ["create_app", "serve"]
