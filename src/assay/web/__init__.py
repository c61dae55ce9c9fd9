"""The web viewer behind `assay serve`: leaderboard, runs, samples, comparisons, live runs.

Import `assay.web.app.create_app`; this package needs the `web` extra (Starlette, Jinja2,
uvicorn), which the rest of assay never imports.
"""
