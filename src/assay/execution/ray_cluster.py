"""`assay run --executor ray`: connect to (or start) a Ray cluster and build the job's workers.

Without an address a Ray instance is started for this command alone on 127.0.0.1 (no
dashboard, no usage reporting) and stopped when it ends; with `--ray-address` (or
`$RAY_ADDRESS`) the job joins that cluster and leaves it running. Either way the job starts
its own worker actors, one CPU each, and removes them when it ends.

Concurrency: a local model (`llamacpp/`, `hf/`) is loaded in every worker and limited in each
(one llama.cpp call at a time per worker); an API model's calls are limited for the whole
cluster, per provider endpoint (`openai`, `anthropic`, `openai-compatible@<url>`, ...), by a
named actor that every worker, and every job on the cluster at the same time, shares. Other
models (mock, plugins) are limited cluster-wide per model.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from assay.errors import UserError
from assay.execution.retry import RetryPolicy
from assay.models.base import Model

if TYPE_CHECKING:
    from assay.execution.ray_executor import RayExecutor, WorkerPool

# Calls limited inside each worker, where the model is loaded.
LOCAL_PROVIDERS = frozenset({"llamacpp", "hf"})
# Calls limited per provider endpoint across the cluster.
API_PROVIDERS = frozenset({"openai", "anthropic", "google", "ollama", "openai-compatible"})
NAMESPACE = "assay"
LIMITS_ACTOR = "limits"
WORKER_RESTARTS = 3
START_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 5.0


def _ray() -> Any:
    """The ray module (an optional dependency, imported when a job uses it), never phoning home."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    return ray


def check_reachable(address: str | None) -> None:
    """Fail in seconds, with one line, when nothing listens at a host:port address (Ray itself
    would retry for minutes). `auto` and other forms are left to Ray."""
    if address is None:
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise UserError(
            f"no Ray cluster answers at {address} ({exc.strerror or type(exc).__name__}): start "
            "one with `ray start --head --node-ip-address 127.0.0.1` and pass the address it "
            "prints, or leave --ray-address out to start one for this run"
        ) from None


def limit_key(model: Model) -> str | None:
    """The name of the cluster-wide limit a model's calls share; None: limited per worker."""
    spec = model.spec
    if spec.provider in LOCAL_PROVIDERS:
        return None
    if spec.provider in API_PROVIDERS:
        return spec.provider + (f"@{spec.base_url}" if spec.base_url else "")
    return spec.label


class RayCluster:
    """The Ray side of one `assay run`: its workers, its limits, and Ray itself if it started it."""

    def __init__(self, pool: WorkerPool, started: bool) -> None:
        self.pool = pool
        self.started = started
        self._limits: Any = None  # the LimitActor
        self._own_limits = False  # made by this job, so removed when it ends
        self.limit_names: list[str] = []
        self._executors: list[RayExecutor] = []

    @classmethod
    def start(cls, address: str | None = None, workers: int | None = None) -> RayCluster:
        """Join the cluster at `address` (or $RAY_ADDRESS), or start one here; then `workers`
        worker actors (default: one per CPU of the cluster)."""
        ray = _ray()
        from assay.execution.ray_executor import WorkerPool
        from assay.execution.ray_workers import ModelWorker

        started = False
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address is not None and not ray.is_initialized():
            check_reachable(address)
        if not ray.is_initialized():
            try:
                if address is None:
                    ray.init(
                        address="local",
                        num_cpus=workers or os.cpu_count() or 1,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                        _node_ip_address="127.0.0.1",
                    )
                else:
                    # the workers run this process's assay, whatever the nodes have installed
                    import assay

                    package = os.path.dirname(assay.__file__)
                    ray.init(
                        address=address,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                        runtime_env={"py_modules": [package], "excludes": ["__pycache__"]},
                    )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(
                    f"could not start or reach {where} ({first}): start one with "
                    "`ray start --head --node-ip-address 127.0.0.1` and pass its address to "
                    "--ray-address, or leave --ray-address out to start one for this run"
                ) from None
            started = True
        cpus = int(ray.cluster_resources().get("CPU", 0))
        count = workers or max(1, cpus)
        if count > cpus:
            if started:
                ray.shutdown()
            raise UserError(
                f"--ray-workers {count}: the Ray cluster has {cpus} CPUs and each worker takes "
                f"one: pass --ray-workers {max(1, cpus)} or fewer, or add nodes to the cluster"
            )
        actor = ray.remote(ModelWorker).options(
            num_cpus=1, max_restarts=WORKER_RESTARTS, max_task_retries=0, max_concurrency=10_000
        )
        handles = [actor.remote() for _ in range(count)]
        try:
            ray.get([h.pid.remote() for h in handles], timeout=START_TIMEOUT_S)
        except Exception as exc:
            for handle in handles:
                ray.kill(handle)
            if started:
                ray.shutdown()
            raise UserError(
                f"the Ray cluster did not start {count} workers within {START_TIMEOUT_S:g}s "
                f"({type(exc).__name__}): check `ray status`, or pass fewer --ray-workers"
            ) from None
        return cls(WorkerPool(handles, WORKER_RESTARTS), started)

    def executor(
        self, model: Model, source: str, *, concurrency: int | None, policy: RetryPolicy
    ) -> RayExecutor:
        """A `RayExecutor` for `model`, built on the workers from `source` (its model string)."""
        from assay.execution.ray_executor import RayExecutor

        key = limit_key(model)
        limit = None if key is None else self._limit(key, model, concurrency)
        executor = RayExecutor(
            model,
            self.pool,
            source=source,
            concurrency=concurrency,
            policy=policy,
            limit=limit,
            limit_name=key,
        )
        self._executors.append(executor)
        return executor

    def _limit(self, key: str, model: Model, concurrency: int | None) -> Any:
        """The cluster's limit actor, with the limit `key` made in it (by the first job that
        needs it: its numbers hold for later jobs)."""
        ray = _ray()
        from assay.execution.ray_workers import LimitActor

        if self._limits is None:
            try:
                self._limits = ray.get_actor(LIMITS_ACTOR, namespace=NAMESPACE)
            except ValueError:  # no job on the cluster has made it yet
                self._limits = (
                    ray.remote(LimitActor)
                    .options(
                        name=LIMITS_ACTOR,
                        namespace=NAMESPACE,
                        get_if_exists=True,
                        num_cpus=0,
                        max_concurrency=100_000,
                    )
                    .remote()
                )
                self._own_limits = True
        caps = model.capabilities
        initial = concurrency or caps.concurrency
        maximum = concurrency or caps.max_concurrency or caps.concurrency
        # waited for here: a limit that cannot start fails the command before any run
        ray.get(self._limits.ensure.remote(key, initial, maximum), timeout=START_TIMEOUT_S)
        self.limit_names.append(key)
        return self._limits

    async def release_driver_weights(self) -> None:
        """Free the weights local models loaded in this process when they were built (for their
        capabilities and identity): their calls are made by the workers, which load their own."""
        for executor in self._executors:
            if executor.model.spec.provider in LOCAL_PROVIDERS:
                await executor.model.close()

    def limit_states(self) -> dict[str, Any]:
        """Each shared limit this job's models use: slots in use, the limit, calls made."""
        ray = _ray()
        if self._limits is None:
            return {}
        return {
            name: ray.get(self._limits.state.remote(name), timeout=START_TIMEOUT_S)
            for name in self.limit_names
        }

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by this job's workers and the limits actor (bench/scale.py)."""
        ray = _ray()
        actors = [w.handle for w in self.pool.workers]
        if self._limits is not None:
            actors.append(self._limits)
        return float(sum(ray.get([a.cpu.remote() for a in actors], timeout=START_TIMEOUT_S)))

    async def close(self) -> None:
        """Stop this job's streams, remove its workers and limits (and Ray itself, when this
        job started it)."""
        ray = _ray()

        for executor in self._executors:
            await executor.close()
        if not ray.is_initialized():
            return
        for worker in self.pool.workers:
            ray.kill(worker.handle, no_restart=True)
        if self._own_limits:
            ray.kill(self._limits, no_restart=True)
        if self.started:
            ray.shutdown()
