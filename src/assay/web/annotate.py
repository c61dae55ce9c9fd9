"""The annotation page (`assay annotate serve`): one item at a time, server-rendered, rated with
plain form buttons (no script), each rating written to the store as it is given.

It shares the viewer's templates, escaping and Content-Security-Policy. Model names are never on
the page; a pairwise item shows its two responses in the order recorded for it. Every POST must
carry the page's per-server token, so another web page the annotator has open cannot post
ratings in their name.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from assay.annotation.exchange import input_text
from assay.annotation.items import Item, first_unrated
from assay.store import ratings as store_ratings
from assay.store.db import Store
from assay.web.app import TimingHeaders, Viewer, _crash, _error

SHOWN = 200_000  # characters of a prompt or response on the page
MAX_FORM = 4_096  # bytes of a rating form


class Annotator:
    def __init__(self, store: Store, items: Sequence[Item], annotator: str) -> None:
        self.store = store
        self.items = list(items)
        self.ids = {i.id for i in self.items}
        self.annotator = annotator
        self.token = secrets.token_urlsafe(24)
        self.viewer = Viewer(store)  # its Jinja environment: the same escaping and filters
        self.viewer.env.globals["annotating"] = annotator  # the menu: no viewer links

    def _ratings(self) -> dict[str, float]:
        """This annotator's ratings of these items (one query, whatever the number of items)."""
        found = store_ratings.values_of(self.store, self.annotator)
        return {k: v for k, v in found.items() if k in self.ids}

    def _position(self, request: Request) -> int:
        n: int = request.path_params["n"]
        if not 0 <= n < len(self.items):
            raise HTTPException(404, f"no item {n}: items go from 0 to {len(self.items) - 1}")
        return n

    async def start(self, request: Request) -> Response:
        """Where the annotator left off: the first item they have not rated."""
        n = first_unrated(self.items, set(self._ratings()))
        return RedirectResponse("/done" if n is None else f"/items/{n}", status_code=303)

    async def page(self, request: Request) -> Response:
        n = self._position(request)
        item = self.items[n]
        ratings = self._ratings()
        runs = item.shown_runs()
        texts = store_ratings.sample_texts(self.store, [(r, item.sample_id) for r in runs])
        if any((r, item.sample_id) not in texts for r in runs):
            raise HTTPException(404, f"item {n}: its sample is no longer in the store")
        first = texts[(runs[0], item.sample_id)]
        stored = ratings.get(item.id)
        return self.viewer.render(
            "annotate.html",
            n=n,
            total=len(self.items),
            rated=len(ratings),
            item=item,
            rubric=item.rubric,
            annotator=self.annotator,
            token=self.token,
            prompt=input_text(first["input"]),
            references=[str(r) for r in first["references"]],
            responses=[texts[(r, item.sample_id)]["response"] for r in runs],
            current=None if stored is None else item.shown(stored),
            limit=SHOWN,
        )

    async def rate(self, request: Request) -> Response:
        n = self._position(request)
        item = self.items[n]
        body = await request.body()
        if len(body) > MAX_FORM:
            raise HTTPException(413, "the rating form is too large")
        form = parse_qs(body.decode("utf-8", "replace"))
        if not secrets.compare_digest(form.get("token", [""])[0], self.token):
            raise HTTPException(403, "this form is not from this annotation page: reload it")
        raw = form.get("rating", [""])[0]
        value = item.rubric.read(raw)
        if value is None:
            raise HTTPException(
                400, f"rating {raw!r} is not an answer here: use one of {item.rubric.describe()}"
            )
        store_ratings.save_ratings(
            self.store,
            [{"item_id": item.id, "annotator": self.annotator, "value": item.stored(value)}],
            source="web",
        )
        rated = set(self._ratings())
        later = first_unrated(self.items[n + 1 :], rated)
        following = n + 1 + later if later is not None else first_unrated(self.items, rated)
        target = "/done" if following is None else f"/items/{following}"
        return RedirectResponse(target, status_code=303)

    async def done(self, request: Request) -> Response:
        n = first_unrated(self.items, set(self._ratings()))
        if n is not None:
            return RedirectResponse(f"/items/{n}", status_code=303)
        html = self.viewer.env.get_template("annotate_done.html").render(
            annotator=self.annotator, total=len(self.items), nav_suite=""
        )
        return HTMLResponse(html)


def create_annotation_app(store: Store, items: Sequence[Item], annotator: str) -> Starlette:
    page = Annotator(store, items, annotator)
    handlers: dict[Any, Any] = {HTTPException: _error, Exception: _crash}
    routes = [
        Route("/", page.start),
        Route("/items/{n:int}", page.page, methods=["GET"]),
        Route("/items/{n:int}", page.rate, methods=["POST"]),
        Route("/done", page.done),
        Mount("/static", StaticFiles(packages=[("assay.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.viewer = page.viewer  # the error pages render with it
    app.state.annotator = page
    app.add_middleware(TimingHeaders)
    return app
