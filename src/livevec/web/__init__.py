"""The live shop: product API, recommendations, a stream of changes and the page, served by FastAPI.

Needs the `web` extra: `pip install 'livevec[web]'`.
"""

from ._app import create_app
from ._identity import shopper_token
from ._protocol import ServerLimits
from ._server import check_exposure, serve

__all__ = ["ServerLimits", "check_exposure", "create_app", "serve", "shopper_token"]
