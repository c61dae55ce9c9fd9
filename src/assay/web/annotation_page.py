"""The viewer's Annotations page: agreement between annotators, and between annotators and each
judge, per benchmark and rubric (the numbers `assay annotate agreement` prints)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from assay.analysis.annotation_agreement import JUDGE_PREFIX, annotation_agreement

if TYPE_CHECKING:
    from assay.web.app import Viewer


async def annotations_page(request: Request) -> Response:
    viewer: Viewer = request.app.state.viewer
    benchmark = request.query_params.get("benchmark") or ""
    groups = annotation_agreement(viewer.store, [benchmark] if benchmark else [])
    return viewer.render(
        "annotations.html", groups=groups, benchmark=benchmark, judge_prefix=JUDGE_PREFIX
    )
