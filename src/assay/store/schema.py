"""Tables. JSON columns hold raw requests and responses exactly as sent and received."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# The marker every assay store has carried since its first schema (meta.schema_version). Schema
# changes are Alembic revisions in store/migrations/versions: a change here needs one.
SCHEMA_VERSION = 1

metadata = sa.MetaData()
Json = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

suites = sa.Table(
    "suites",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True, comment="hash of the run spec"),
    sa.Column("benchmark", sa.String(300), nullable=False, comment="variant, e.g. mmlu:shots=0"),
    sa.Column("benchmark_name", sa.String(100), nullable=False),
    sa.Column("benchmark_version", sa.String(40), nullable=False),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("spec", Json, nullable=False),
    sa.Column("groups", Json, nullable=False),
    sa.Column("main_metric", sa.String(100), nullable=False),
    sa.Column("higher_is_better", sa.Boolean, nullable=False),
    sa.Column("dataset_hash", sa.String(32)),
    sa.Column("assay_version", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("n_samples", sa.Integer),
    sa.Column("summary", Json),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column(
        "benchmark_source",
        sa.Text,
        comment="file of a file-defined benchmark; empty for a registered name, null if unknown",
    ),
)

suite_runs = sa.Table(
    "suite_runs",
    metadata,
    sa.Column("suite", sa.String(200), sa.ForeignKey("suites.name"), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("added_at", sa.Float, nullable=False),
)

samples = sa.Table(
    "samples",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("sample_id", sa.String(200), primary_key=True),
    sa.Column("idx", sa.Integer, nullable=False, comment="position in the run's sample order"),
    sa.Column("input", Json, nullable=False),
    sa.Column("references", Json, nullable=False),
    sa.Column("choices", Json),
    sa.Column("correct", sa.Integer),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("split", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, comment="ok | unparsed | error"),
    sa.Column("prediction", sa.Text, comment="the answer read from the output; null if unread"),
    sa.Column("error", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("confidence", sa.Float, comment="probability the model gave its answer, if known"),
    # a large prediction is stored once, as a span of its request's text (store/payloads.py)
    sa.Column("prediction_request", sa.Integer, comment="request idx whose text holds it"),
    sa.Column("prediction_start", sa.Integer, comment="0-based character offset there"),
    sa.Column("prediction_length", sa.Integer, comment="its length in characters"),
    # sample_id rides along: pages in sample order, and the lookups they drive, read only it
    sa.Index("ix_samples_run_idx", "run_id", "idx", "sample_id"),
    # a status filter, and the samples a sorted list puts last (usually the errors), in order
    sa.Index("ix_samples_run_status_idx", "run_id", "status", "idx", "sample_id"),
    sa.Index("ix_samples_run_updated", "run_id", "updated_at"),  # the live page's latest
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("sample_id", sa.String(200), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True, comment="request number within the sample"),
    sa.Column("cache_key", sa.String(64), nullable=False),
    sa.Column("request", Json, nullable=False),
    sa.Column("response", Json),
    sa.Column("text", sa.Text),
    sa.Column("error", Json),
    sa.Column("latency_s", sa.Float),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # the viewer's latency and tokens sorts read the first request of each sample in index
    # order, ties by sample id (output_tokens in the latency index is from before the second)
    sa.Index("ix_requests_run_latency", "run_id", "idx", "latency_s", "sample_id", "output_tokens"),
    sa.Index("ix_requests_run_tokens", "run_id", "idx", "output_tokens", "sample_id"),
    # a large response has no cache row: the cache finds it here (see store/payloads.py)
    sa.Index("ix_requests_cache_key", "cache_key"),
    sa.ForeignKeyConstraint(["run_id", "sample_id"], ["samples.run_id", "samples.sample_id"]),
)

scores = sa.Table(
    "scores",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("sample_id", sa.String(200), primary_key=True),
    sa.Column("metric", sa.String(100), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    # the viewer sorts (ties by sample id), filters and bins by value within (run, metric);
    # covers (run, metric)
    sa.Index("ix_scores_run_metric_value", "run_id", "metric", "value", "sample_id"),
    sa.ForeignKeyConstraint(["run_id", "sample_id"], ["samples.run_id", "samples.sample_id"]),
)

cache = sa.Table(
    "cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True, comment="hash of model identity + request"),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("response", Json, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


run_provenance = sa.Table(
    "run_provenance",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("provenance", Json, nullable=False, comment="versions, git revision, hashes"),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

# What the viewer's run page counts once per finished run (its sample count and the score
# histogram of its main metric): written with the run's status, valid while `finished_at` and
# `metric` match the run's, so a run begun again or rescored is counted afresh.
run_stats = sa.Table(
    "run_stats",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("finished_at", sa.Float, nullable=False, comment="the run's when counted"),
    sa.Column("metric", sa.String(100), nullable=False, comment="the histogram's metric"),
    sa.Column("n_samples", sa.Integer, nullable=False, comment="samples stored"),
    sa.Column("histogram", Json, nullable=False, comment="[[low, high, count], ...]"),
    sa.Column("keyed", Json, nullable=False, comment="per sort: the samples with a key"),
)


provider_batches = sa.Table(
    "provider_batches",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True, comment="hash of model + custom ids"),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("batch_id", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, comment="running | collected"),
    sa.Column("n_requests", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


# `assay pairwise`: one judge request per (pair of runs, sample, judge, order). The pair is
# stored with its run ids in sorted order (run_a < run_b); `order` says whose answer the judge
# saw first ("ab": run_a's). `winner` is this order's verdict in terms of the runs.
pairwise_judgments = sa.Table(
    "pairwise_judgments",
    metadata,
    sa.Column("run_a", sa.String(32), primary_key=True),
    sa.Column("run_b", sa.String(32), primary_key=True),
    sa.Column("sample_id", sa.String(200), primary_key=True),
    sa.Column("judge_key", sa.String(32), primary_key=True, comment="hash of the judge spec"),
    sa.Column("order", sa.String(2), primary_key=True, comment="ab: run_a's answer first"),
    sa.Column("judge", sa.String(500), nullable=False),
    sa.Column("judge_spec", Json, nullable=False, comment="model identity, prompt, settings"),
    sa.Column("cache_key", sa.String(64), nullable=False),
    sa.Column("request", Json, nullable=False),
    sa.Column("response", Json),
    sa.Column("text", sa.Text),
    sa.Column("error", Json),
    sa.Column("winner", sa.String(4), comment="a | b | tie; null when unread"),
    sa.Column("status", sa.String(20), nullable=False, comment="ok | unparsed | error"),
    sa.Column("reason", sa.Text),
    sa.Column("latency_s", sa.Float),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.ForeignKeyConstraint(["run_a", "sample_id"], ["samples.run_id", "samples.sample_id"]),
    sa.ForeignKeyConstraint(["run_b", "sample_id"], ["samples.run_id", "samples.sample_id"]),
)


# Human evaluation (`assay annotate`): the items annotators rate, and their ratings.
annotation_items = sa.Table(
    "annotation_items",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True, comment="hash of kind, rubric, runs, sample"),
    sa.Column("kind", sa.String(20), nullable=False, comment="rating | pairwise"),
    sa.Column("rubric", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("other_run_id", sa.String(32), sa.ForeignKey("runs.id"), comment="pairwise: B"),
    sa.Column("sample_id", sa.String(200), nullable=False),
    sa.Column("left_run_id", sa.String(32), comment="pairwise: the run shown first (left)"),
    sa.Column("seed", sa.BigInteger, comment="pairwise: the seed that drew the order"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_annotation_items_run", "run_id", "sample_id"),
)

annotation_ratings = sa.Table(
    "annotation_ratings",
    metadata,
    sa.Column("item_id", sa.String(32), sa.ForeignKey("annotation_items.id"), primary_key=True),
    sa.Column("annotator", sa.String(100), primary_key=True),
    sa.Column(
        "value",
        sa.Float,
        nullable=False,
        comment="the rubric's value; pairwise: 1 run_id better, 0 other_run_id better, 0.5 tie",
    ),
    sa.Column("source", sa.String(20), nullable=False, comment="web | import"),
    sa.Column("rated_at", sa.Float, nullable=False),
    sa.Index("ix_annotation_ratings_annotator", "annotator", "item_id"),
)
