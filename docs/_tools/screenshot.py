"""Screenshots of the built docs site in headless Chromium: `python docs/_tools/screenshot.py` after
`make docs`. The site is served on loopback from `site/`; the pictures go to `docs/`."""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "screenshot-getting-started.png": "getting-started/",
    "screenshot-reference.png": "reference/python/#livevec.Table.search",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chromium", help="a Chromium binary to use instead of Playwright's own")
    args = parser.parse_args()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, path in PAGES.items():
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=ROOT / "docs" / name)
                print(name)
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
