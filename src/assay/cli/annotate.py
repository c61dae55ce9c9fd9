"""`assay annotate serve|export|import|agreement`: human evaluation (see docs/annotation.md)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import webbrowser
from pathlib import Path

from assay.annotation.items import Item, Selection, check_annotator, select
from assay.checks import COUNT_MAX, check_range
from assay.display import visible
from assay.errors import UserError
from assay.store.db import Store, resolve_url


def main(args: argparse.Namespace) -> int:
    action = {
        "serve": _serve,
        "export": _export,
        "import": _import,
        "agreement": _agreement,
    }[args.annotate_command]
    return action(args)


def _items(args: argparse.Namespace, store: Store) -> list[Item]:
    check_range("--seed", args.seed, at_least=0, at_most=COUNT_MAX)
    check_range("--limit", args.limit, at_least=1, at_most=COUNT_MAX)
    selection = Selection(
        benchmarks=tuple(args.benchmarks or ()),
        models=tuple(args.models or ()),
        pairwise=args.pairwise,
        rubric=args.rubric,
        suite=args.suite,
        seed=args.seed,
        limit=args.limit,
    )
    if selection.pairwise is not None and selection.models:
        raise UserError("--pairwise names its two models: leave out --model")
    return select(store, selection)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from assay.web.annotate import create_annotation_app
    except ImportError as exc:
        raise UserError(
            f"the annotation page needs the web extra ({exc.name} is missing): "
            "pip install 'assay[web]'"
        ) from exc
    from assay.cli.serve import bind

    annotator = check_annotator(args.annotator)
    check_range("--port", args.port, at_least=1, at_most=65535)
    store = Store(resolve_url(args.db))
    items = _items(args, store)
    app = create_annotation_app(store, items, annotator)
    listener = bind(args.host, args.port)
    host = "[" + args.host + "]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}/"
    print(
        f"assay: {len(items)} items for {annotator} at {url} (Ctrl+C stops; run the same "
        "command again to carry on)",
        file=sys.stderr,
    )
    if not args.no_browser:
        _open_in_browser(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    with listener:
        server.run(sockets=[listener])
    store.close()
    return 0


def _open_in_browser(url: str) -> None:
    """Open the page once the server is up, in a graphical browser only: a console browser
    (lynx, w3m) would take over the terminal the server reports to."""
    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY")
    )
    if not graphical:
        print(f"assay: open {url} in a web browser", file=sys.stderr)
        return
    opener = threading.Timer(0.5, webbrowser.open, [url])
    opener.daemon = True
    opener.start()


def _export(args: argparse.Namespace) -> int:
    from assay.annotation.exchange import export_rows, format_of, render
    from assay.cli.export import check_destination, check_not_the_store, write_atomically

    path = Path(args.output)
    check_destination(path)
    check_not_the_store(path, resolve_url(args.db))
    fmt = format_of(path, args.format)
    annotator = check_annotator(args.annotator) if args.annotator else None
    store = Store(resolve_url(args.db))
    items = _items(args, store)
    text = render(export_rows(store, items, annotator), fmt)
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"wrote {len(items)} items to {path}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from assay.annotation.exchange import import_ratings

    annotator = check_annotator(args.annotator) if args.annotator else None
    store = Store(resolve_url(args.db))
    done = import_ratings(store, Path(args.file), args.format, annotator)
    print(
        f"imported {args.file}: {done.new} new ratings, {done.changed} changed, "
        f"{done.unchanged} already there, {done.blank} rows not rated"
    )
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from assay.analysis.annotation_agreement import annotation_agreement

    store = Store(resolve_url(args.db), readonly=True)
    groups = annotation_agreement(store, args.benchmarks or ())
    if args.format == "json":
        print(json.dumps([g.as_dict() for g in groups], indent=2))
        return 0
    if not groups:
        print("no ratings in this store: rate with `assay annotate serve` or `annotate import`")
        return 0
    for group in groups:
        what = f"pairwise {group.models}" if group.kind == "pairwise" else f"rubric {group.rubric}"
        print(f"{visible(group.benchmark)} · {visible(what)} · {group.items} items")
        raters = ", ".join(f"{visible(r)} {n}" for r, n in group.ratings.items())
        print(f"  items rated: {raters}")
        print(f"  Krippendorff's alpha ({group.level}), annotators: {_number(group.alpha)}")
        for p in group.pairs:
            print(
                f"  {visible(p.a)} vs {visible(p.b)}: n={p.n}, same {p.agreement:.3f}, "
                f"Cohen's kappa{' (quadratic weights)' if p.weights == 'quadratic' else ''} "
                f"{_number(p.kappa)}"
            )
    return 0


def _number(value: float | None) -> str:
    if value is None:
        return "– (fewer than two annotators on shared items)"
    if math.isnan(value):
        return "– (undefined: every rating the same)"
    return f"{value:.3f}"
