"""Fit a Gaussian mixture on a Spark DataFrame: ``gaussmix.spark.fit(df, features, k)``.

The features are assembled once, in the JVM, into a single ``array<double>`` column (a list
of numeric columns, an array column or an ML ``Vector`` column all work); ``mapInArrow``
hands every Python task Arrow record batches whose list values are one contiguous N×D
buffer, which is viewed as a NumPy array and passed to Rust without a copy. Statistics of a
partition are the merged E-step statistics of its batches (a few KB of bytes); the
partitions' statistics are summed in partition order, the M-step runs on the sum.

Two ways to run the EM loop (``mode``):

- ``"barrier"``: ONE barrier-mode Spark job for the whole fit. Each task reads its rows
  once and keeps them in its Python worker; every iteration it computes its partitions'
  statistics, exchanges them with the other tasks (an all-gather over TCP through task 0;
  Spark's ``allGather`` answers in steps of a second, so it only publishes the address), and
  every task merges all partitions' statistics in partition order and runs the same M-step
  and convergence test, so all tasks hold the same model; task 0 returns it. An iteration
  then costs one E-step plus one exchange of a few KB, not a Spark job. Barrier tasks run all
  at once, so a DataFrame with more partitions than the cluster has task slots is first
  regrouped (once) into as many partitions as there are slots, each original partition
  whole in one task and its rows in their original order (on a local master by a coalesce
  and a local checkpoint, elsewhere by a shuffle): the fit is the ``"jobs"`` fit of the
  original partitioning, bit for bit. A task that fails makes Spark rerun the whole stage
  (all tasks, from the start of the fit: the result is the same).
- ``"jobs"``: one Spark job per EM iteration, driven from the driver. On a local master the
  first pass also leaves each partition's rows, as the NumPy buffers it fitted, in a file on
  the worker machine (``worker_cache``); later passes are jobs of one small task per
  partition that map those files and never touch the DataFrame (a pass over a cached
  DataFrame costs far more than the E-step: Spark decodes the cached rows and re-encodes
  them as Arrow every time). A partition whose file is gone is read from the DataFrame
  again, so the result is the same either way, bit for bit. Checkpointing
  (``checkpoint``/``resume``) needs this mode: the driver holds the EM state.

``"auto"`` (the default) is ``"barrier"`` where it can run and ``"jobs"`` otherwise (with
``checkpoint``/``resume``, with dynamic allocation, or where the number of task slots cannot
be read; a ``UserWarning`` says why in the last two cases). On ``local[2]`` at the P2 scale
(1M rows, D=16, K=16, full) a barrier iteration cost 0.95-1.24x the in-process one, a jobs
iteration 1.9-5.2x it, most of that Spark's own cost of a job (measured by
``bindings/python/bench/bench_p2.py``; see the Python README).

Requirements on the cluster: ``gaussmix`` (and ``pyarrow``) installed in the executors'
Python. Tasks run the E-step on one thread each (Spark already runs one task per core).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import struct
import tempfile
import uuid
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core, _distributed
from .mixture import GaussianMixture

__all__ = ["fit"]


def _null_feature(values: Any, d: int, names: Optional[Sequence[str]]) -> ValueError:
    """The error for the first null among ``values`` (the batch's features, flattened row
    by row), naming its column and row."""
    import pyarrow.compute as pc

    row, col = divmod(int(pc.index(pc.is_null(values), True).as_py()), d)
    what = repr(names[col]) if names is not None else f"{col} (0-based)"
    return ValueError(
        f"null value in feature column {what} (row {row} of a batch); "
        "drop or fill nulls before fitting"
    )


def _list_column_to_numpy(col: Any, d: int, names: Optional[Sequence[str]] = None) -> np.ndarray:
    """An Arrow list<double> column whose lists all have ``d`` values, as an N×D NumPy view
    of its value buffer (no copy). ``names`` (of the D features) name a null's column."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        raise ValueError("a row has a null feature vector (drop or fill nulls before fitting)")
    n = len(col)
    if pa.types.is_fixed_size_list(col.type):
        values = col.flatten()
    else:
        offsets = col.offsets.to_numpy()
        lengths = np.diff(offsets)
        bad = np.flatnonzero(lengths != d)
        if bad.size:
            raise ValueError(
                f"a feature vector has {int(lengths[bad[0]])} values, expected {d} "
                f"(row {int(bad[0])} of a batch)"
            )
        values = col.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    if values.null_count:
        raise _null_feature(values, d, names)
    if not pa.types.is_floating(values.type):
        values = values.cast(pa.float64())
    x = values.to_numpy(zero_copy_only=True)
    return x.reshape(n, d)


def _features_column(df: Any, features: Union[str, Sequence[str]]) -> Any:
    """A Spark Column ``array<double>`` of the features, and their names (or None)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    if isinstance(features, str):
        dtype = df.schema[features].dataType
        if isinstance(dtype, ArrayType):
            return F.col(features).cast("array<double>"), None
        if dtype.typeName() == "vector" or type(dtype).__name__ == "VectorUDT":
            from pyspark.ml.functions import vector_to_array

            return vector_to_array(F.col(features), "float64"), None
        features = [features]
    names = list(features)
    if not names:
        raise ValueError("features must name at least one column")
    return F.array(*[F.col(c).cast("double") for c in names]), names


def _worker_dir(root: Optional[str], fit_id: str) -> str:
    """The folder of one fit's partition files on a worker."""
    return os.path.join(root or tempfile.gettempdir(), f"gaussmix-spark-{fit_id}")


class _PartitionWriter:
    """Writes one partition's rows (and weights) as raw buffers, batch by batch, with the
    batch sizes and dtype in a ``.json`` written last: a partition is cached only once its
    ``.json`` exists, and each file lands by an atomic rename (a retried task rewrites it)."""

    def __init__(self, folder: str, pid: int, tag: str):
        os.makedirs(folder, exist_ok=True)
        self.folder, self.pid, self.tag = folder, pid, tag
        self.x = open(self._path("x") + tag, "wb")
        self.w: Optional[Any] = None
        self.batches: List[int] = []
        self.dtype: Optional[str] = None

    def _path(self, what: str) -> str:
        return os.path.join(self.folder, f"{self.pid}.{what}")

    def add(self, x: np.ndarray, w: Optional[np.ndarray]) -> None:
        self.dtype = x.dtype.str
        self.x.write(np.ascontiguousarray(x).data)
        if w is not None:
            if self.w is None:
                self.w = open(self._path("w") + self.tag, "wb")
            self.w.write(np.ascontiguousarray(w, dtype=np.float64).data)
        self.batches.append(int(x.shape[0]))

    def close(self) -> None:
        self.x.close()
        os.replace(self._path("x") + self.tag, self._path("x"))
        if self.w is not None:
            self.w.close()
            os.replace(self._path("w") + self.tag, self._path("w"))
        meta = {"batches": self.batches, "dtype": self.dtype, "weights": self.w is not None}
        with open(self._path("json") + self.tag, "w") as f:
            json.dump(meta, f)
        os.replace(self._path("json") + self.tag, self._path("json"))

    def abandon(self) -> None:
        for f in (self.x, self.w):
            if f is not None:
                f.close()
        for what in ("x", "w"):
            try:
                os.remove(self._path(what) + self.tag)
            except OSError:
                pass


def _cached_partition_stats(
    folder: str, pid: int, d: int, js: str
) -> Tuple[str, Optional[bytes]]:
    """("miss", None) when partition ``pid`` has no complete file here; otherwise ("ok",
    its merged statistics, or None for an empty partition), chunked as the first pass was."""
    from gaussmix import _core as core

    try:
        with open(os.path.join(folder, f"{pid}.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return "miss", None
    rows = sum(meta["batches"])
    if rows == 0:
        return "ok", None
    dtype = np.dtype(meta["dtype"])
    x = np.memmap(os.path.join(folder, f"{pid}.x"), dtype=dtype, mode="r")
    if x.size != rows * d:
        return "miss", None
    x = x.reshape(rows, d)
    w = None
    if meta["weights"]:
        w = np.memmap(os.path.join(folder, f"{pid}.w"), dtype=np.float64, mode="r")
        if w.size != rows:
            return "miss", None
    m = core.Model.from_json(js)
    acc = None
    off = 0
    for nb in meta["batches"]:
        if nb == 0:
            continue
        s = core.Stats.from_chunk(
            m, x[off : off + nb], None if w is None else w[off : off + nb], parallel=False
        )
        off += nb
        if acc is None:
            acc = s
        else:
            acc.merge(s)
    return "ok", None if acc is None else acc.to_bytes()


#: Column names the barrier mode adds when it shuffles the rows to the task slots.
_PART_COL, _ROW_COL = "_gaussmix_part", "_gaussmix_row"

#: The modes of :func:`fit`.
MODES = ("auto", "barrier", "jobs")


def _task_slots(sc: Any) -> Optional[int]:
    """How many tasks the cluster runs at once (what a barrier stage may use), or None when
    it cannot be read."""
    try:
        jsc = sc._jsc.sc()
        n = int(jsc.maxNumConcurrentTasks(jsc.resourceProfileManager().defaultResourceProfile()))
        if n > 0:
            return n
    except Exception:  # noqa: BLE001 - a private JVM method: fall back to the master URL
        pass
    m = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", str(sc.master))
    if m is None:
        return None
    if m.group(1) == "*":
        return os.cpu_count() or 1
    return int(m.group(1) or 1)


class _StatsError(ValueError):
    """An error one barrier task met in its rows, raised in every task after the exchange."""


def _batch_weights(b: Any, has_w: bool) -> Optional[np.ndarray]:
    if not has_w:
        return None
    wc = b.column("w")
    if wc.null_count:
        raise ValueError("null sample weight")
    return np.ascontiguousarray(wc.to_numpy(zero_copy_only=False), dtype=np.float64)


def _barrier_rows(
    batches: Iterator[Any], task: int, d: int, names: Optional[Sequence[str]], has_w: bool,
    shuffled: bool, batch_rows: int,
) -> Dict[int, List[Tuple[np.ndarray, Optional[np.ndarray]]]]:
    """A barrier task's rows: original partition -> its batches (rows, weights), the
    batches of the ``"jobs"`` passes over that partition. Unshuffled, the task's input is
    partition ``task``'s batches as they come; shuffled, the rows are put back in their
    original order (by the row ids added before the shuffle) and cut into batches of
    ``batch_rows`` (Spark's ``arrow.maxRecordsPerBatch``) per original partition."""
    from gaussmix._distributed import check_finite

    parts: Dict[int, List[Tuple[np.ndarray, Optional[np.ndarray]]]] = {}
    if not shuffled:
        mine = parts.setdefault(task, [])
        for b in batches:
            if b.num_rows == 0:
                continue
            x = _list_column_to_numpy(b.column("x"), d, names)
            check_finite(x, names, f"partition {task}")
            mine.append((x, _batch_weights(b, has_w)))
        return parts
    xs, ws, ids = [], [], []
    for b in batches:
        if b.num_rows == 0:
            continue
        xs.append(_list_column_to_numpy(b.column("x"), d, names))
        ws.append(_batch_weights(b, has_w))
        ids.append(b.column(_ROW_COL).to_numpy())
    if not xs:
        return parts
    row = np.concatenate(ids)
    order = np.argsort(row, kind="stable")
    row = row[order]
    x = np.concatenate(xs)[order]
    del xs
    w = np.concatenate(ws)[order] if has_w else None
    pid = row >> 33  # monotonically_increasing_id: partition << 33 | row in partition
    cuts = [0, *(np.flatnonzero(np.diff(pid)) + 1).tolist(), len(row)]
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        p = int(pid[lo])
        step = batch_rows if batch_rows > 0 else hi - lo
        mine = parts.setdefault(p, [])
        for a in range(lo, hi, step):
            e = min(a + step, hi)
            check_finite(x[a:e], names, f"partition {p}")
            mine.append((x[a:e], None if w is None else w[a:e]))
    return parts


class _Exchange:
    """All-gather of byte strings among the tasks of a barrier stage, over TCP with task 0 as
    the hub: each task sends its message, task 0 sends every task all messages in task order.

    Spark's own ``BarrierTaskContext.allGather`` waits in steps of one second (its JVM side
    polls the reply with ``Thread.sleep(1000)``), which would cost about a second per EM
    iteration; it is used once, to publish task 0's address. Connections are authenticated
    with a random secret the driver ships in the task closure."""

    def __init__(self, ctx: Any, task: int, n_tasks: int, secret: bytes) -> None:
        self.task, self.n = task, n_tasks
        self.peers: Dict[int, socket.socket] = {}
        self.hub: Optional[socket.socket] = None
        srv = None
        addr = ""
        if task == 0 and n_tasks > 1:
            if socket.has_dualstack_ipv6():
                srv = socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True)
            else:
                srv = socket.create_server(("", 0))
            host = ctx.getTaskInfos()[0].address.rsplit(":", 1)[0]
            addr = f"{host}:{srv.getsockname()[1]}"
        addrs = ctx.allGather(addr)
        try:
            if n_tasks <= 1:
                return
            if task == 0:
                assert srv is not None
                srv.settimeout(600.0)
                while len(self.peers) < n_tasks - 1:
                    c, _ = srv.accept()
                    c.settimeout(60.0)
                    try:
                        head = _recv_exact(c, len(secret) + 4)
                    except OSError:
                        c.close()
                        continue
                    if not secrets.compare_digest(head[: len(secret)], secret):
                        c.close()
                        continue
                    c.settimeout(None)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.peers[struct.unpack("<I", head[len(secret):])[0]] = c
            else:
                host, port = addrs[0].rsplit(":", 1)
                c = socket.create_connection((host.strip("[]"), int(port)), timeout=60.0)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sendall(secret + struct.pack("<I", task))
                c.settimeout(None)
                self.hub = c
        finally:
            if srv is not None:
                srv.close()

    def all_gather(self, msg: bytes) -> List[bytes]:
        if self.n <= 1:
            return [msg]
        if self.task == 0:
            got = [msg] + [_recv_frame(self.peers[t]) for t in range(1, self.n)]
            blob = b"".join(struct.pack("<Q", len(m)) + m for m in got)
            frame = struct.pack("<Q", len(blob)) + blob
            for t in range(1, self.n):
                self.peers[t].sendall(frame)
            return got
        assert self.hub is not None
        self.hub.sendall(struct.pack("<Q", len(msg)) + msg)
        blob = _recv_frame(self.hub)
        out, off = [], 0
        while off < len(blob):
            (n,) = struct.unpack_from("<Q", blob, off)
            out.append(blob[off + 8 : off + 8 + n])
            off += 8 + n
        return out

    def close(self) -> None:
        for c in [*self.peers.values(), *([self.hub] if self.hub is not None else [])]:
            try:
                c.close()
            except OSError:
                pass


def _recv_exact(c: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        r = c.recv_into(view[got:])
        if r == 0:
            raise ConnectionError("a barrier task closed its connection (it failed or was killed)")
        got += r
    return bytes(buf)


def _recv_frame(c: socket.socket) -> bytes:
    (n,) = struct.unpack("<Q", _recv_exact(c, 8))
    return _recv_exact(c, n)


def _barrier_task(
    batches: Iterator[Any], d: int, names: Optional[Sequence[str]], has_w: bool,
    shuffled: bool, batch_rows: int, est: GaussianMixture, starts: List[_core.Model],
    hook: Optional[Callable[[int], None]], secret: bytes,
) -> Iterator[Any]:
    """The body of one barrier task (see the module's notes): the whole EM loop, with one
    all-gather (:class:`_Exchange`) of the partitions' statistics per iteration. Task 0 yields the result: the
    best model's JSON, or the error every task met (a ``ValueError`` of the data or of an
    M-step, the same in every task, is returned, not raised: Spark would rerun the stage)."""
    import pyarrow as pa
    from pyspark import BarrierTaskContext

    from gaussmix import _core as core
    from gaussmix import _distributed as dist

    ctx = BarrierTaskContext.get()
    task = ctx.partitionId()
    err: Optional[str] = None
    parts: Dict[int, List[Tuple[np.ndarray, Optional[np.ndarray]]]] = {}
    try:
        parts = _barrier_rows(batches, task, d, names, has_w, shuffled, batch_rows)
    except ValueError as e:
        err = str(e)
    exchange = _Exchange(ctx, task, len(ctx.getTaskInfos()), secret)
    passes = [0]

    def stats_pass(model: Any) -> List[bytes]:
        passes[0] += 1
        if hook is not None:
            hook(passes[0])
        msg: Dict[str, Any]
        if err is not None:
            msg = {"error": err}
        else:
            try:
                # the model the driver of the "jobs" mode would ship: its JSON
                m = core.Model.from_json(model.to_json())
                mine = {}
                for p in sorted(parts):
                    acc = None
                    for x, w in parts[p]:
                        s = core.Stats.from_chunk(m, x, w, parallel=False)
                        if acc is None:
                            acc = s
                        else:
                            acc.merge(s)
                    if acc is not None:
                        mine[str(p)] = base64.b64encode(acc.to_bytes()).decode("ascii")
                msg = {"stats": mine}
            except ValueError as e:
                msg = {"error": str(e)}
        everyone = [json.loads(g) for g in exchange.all_gather(json.dumps(msg).encode())]
        for g in everyone:
            if "error" in g:
                raise _StatsError(g["error"])
        got: Dict[int, str] = {}
        for g in everyone:
            got.update((int(p), b) for p, b in g["stats"].items())
        return [base64.b64decode(got[p]) for p in sorted(got)]

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            best = dist.run_starts(stats_pass, est, starts)
        kind, text = "model", best.to_json()
    except ValueError as e:
        kind, text = "error", str(e)
    finally:
        exchange.close()
    if task == 0:
        yield pa.RecordBatch.from_arrays(
            [pa.array([task], pa.int32()), pa.array([kind]), pa.array([text]),
             pa.array([out.getvalue()])],
            names=["task", "kind", "text", "out"],
        )  # fmt: skip


#: How barrier mode regroups more partitions than slots: "auto" (coalesce and local
#: checkpoint on a local master, a range shuffle elsewhere), "checkpoint" or "shuffle".
_REGROUP = "auto"


def _regroup_by_checkpoint(sc: Any) -> bool:
    """Whether to regroup partitions by a local checkpoint (cheaper: no shuffle, about half
    the one-off cost on P2) rather than a shuffle. A local checkpoint lives on the
    executors and is lost with one, so it is used on a local master only (where losing the
    executor is losing the driver)."""
    if _REGROUP != "auto":
        return _REGROUP == "checkpoint"
    return str(sc.master).startswith("local")


def _release_checkpoint(df: Any) -> None:
    """Frees the blocks of a ``localCheckpoint`` DataFrame (best effort)."""
    try:
        df._jdf.queryExecution().analyzed().rdd().unpersist(False)
    except Exception:  # noqa: BLE001 - Spark's cleaner frees them later anyway
        pass


def _barrier_fit(
    prepared: Any, d: int, names: Optional[List[str]], has_w: bool, est: GaussianMixture,
    starts: List[_core.Model], slots: int, hook: Optional[Callable[[int], None]],
) -> _core.Model:
    """Runs the barrier-mode fit (one Spark job) and returns the best model."""
    from pyspark.sql import functions as F

    n_parts = prepared.rdd.getNumPartitions()
    spark = prepared.sparkSession
    batch_rows = int(spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch", "10000"))
    shuffled = n_parts > slots
    src = prepared
    held = None
    if shuffled:
        # each original partition whole in one of `slots` partitions, its rows tagged with
        # their place so that the task can restore their order
        tagged = prepared.withColumn(_ROW_COL, F.monotonically_increasing_id())
        if _regroup_by_checkpoint(spark.sparkContext):
            # coalesced (no shuffle) and locally checkpointed: a barrier stage may not
            # contain a coalesce, and a checkpoint cuts the lineage there
            src = held = tagged.coalesce(slots).localCheckpoint()
        else:
            src = (
                tagged.withColumn(_PART_COL, F.spark_partition_id())
                .repartitionByRange(slots, _PART_COL)
                .drop(_PART_COL)
            )
    secret = secrets.token_bytes(32)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from gaussmix.spark import _barrier_task

        yield from _barrier_task(
            batches, d, names, has_w, shuffled, batch_rows, est, starts, hook, secret
        )

    # the barrier stage ends in a shuffle (to one partition: task 0's row) so that it is a
    # shuffle-map stage: Spark reruns a failed one as a whole, but not a result stage
    fitted = src.mapInArrow(run, "task int, kind string, text string, out string", barrier=True)
    try:
        rows = fitted.repartition(1).collect()
    finally:
        if held is not None:
            _release_checkpoint(held)
    if len(rows) != 1:
        raise RuntimeError(f"the barrier fit returned {len(rows)} results, expected 1")
    r = rows[0]
    if r["out"]:
        print(r["out"], end="")
    if r["kind"] == "error":
        raise ValueError(r["text"])
    return _core.Model.from_json(r["text"])


def _choose_mode(mode: str, sc: Any, checkpointing: bool) -> Tuple[str, Optional[int]]:
    """("barrier", slots) or ("jobs", None) for ``mode`` (see :func:`fit`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if mode == "jobs":
        return "jobs", None
    if checkpointing:
        if mode == "barrier":
            raise ValueError(
                "checkpoint/resume need mode='jobs' (the driver holds the EM state there); "
                "mode='barrier' runs the whole fit in one Spark job"
            )
        return "jobs", None
    why = None
    if str(sc.getConf().get("spark.dynamicAllocation.enabled", "false")).lower() == "true":
        why = "Spark's barrier mode does not run with dynamic allocation"
        slots = None
    else:
        slots = _task_slots(sc)
        if slots is None:
            why = "the number of task slots of this cluster could not be read"
    if why is None:
        return "barrier", slots
    if mode == "barrier":
        raise ValueError(f"mode='barrier' cannot run: {why}")
    warnings.warn(
        f"gaussmix.spark.fit: {why}; running one Spark job per EM iteration (mode='jobs')",
        UserWarning,
        stacklevel=3,
    )
    return "jobs", None


def fit(
    df: Any,
    features: Union[str, Sequence[str]],
    k: int = 1,
    *,
    weight_col: Optional[str] = None,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init_params: str = "kmeans",
    weights_init: Any = None,
    means_init: Any = None,
    precisions_init: Any = None,
    random_state: Any = None,
    verbose: int = 0,
    verbose_interval: int = 10,
    init_sample_rows: int = 100_000,
    cache: bool = True,
    mode: str = "auto",
    worker_cache: Optional[bool] = None,
    worker_cache_dir: Optional[str] = None,
    checkpoint: Optional[str] = None,
    checkpoint_every: int = 10,
    resume: Optional[str] = None,
    _task_hook: Optional[Callable[[int], None]] = None,
) -> GaussianMixture:
    """Fit a ``k``-component mixture to the rows of a Spark DataFrame.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    features : column name or list of column names
        Numeric columns (one feature each), or one ``array<numeric>`` or ML ``Vector``
        column holding the whole feature vector.
    k : number of components.
    weight_col : optional column of non-negative sample weights.
    covariance_type, tol, reg_covar, max_iter, n_init, init_params, weights_init,
    means_init, precisions_init, random_state, verbose, verbose_interval :
        as in :class:`gaussmix.GaussianMixture`.
    init_sample_rows : unless weights, means and precisions are all given, the
        initialisation (k-means etc.) runs on the driver on a seeded random sample of about
        this many rows; each of the ``n_init`` starts uses its own seed.
    cache : persist the assembled feature column for the passes (recommended).
    mode : ``"auto"`` (default), ``"barrier"`` or ``"jobs"``: the whole fit as one
        barrier-mode Spark job whose tasks keep their rows and exchange statistics each
        iteration, or one Spark job per iteration (see the module's notes; both give the
        same model bit for bit). ``"auto"`` is ``"barrier"`` unless checkpointing, dynamic
        allocation or an unknown slot count rule it out (then ``"jobs"``, with a warning
        for the last two). ``"barrier"`` where it cannot run is a ``ValueError``.
        In barrier mode, ``verbose`` output is printed when the fit ends.
    worker_cache : (``"jobs"`` mode) keep each partition's rows in a file on its worker after the first pass
        and run the later passes from those files (a pass then costs about one E-step; see
        the module's notes). None (default): on for a local master (``local[...]``), where
        every task sees every file; on a cluster a task may run on another executor than the
        one holding its file, which then re-reads its rows from the DataFrame (correct,
        but no faster, and the file is written again there), so it is off unless True.
        The files take as much disk as the rows and are removed when the fit ends (on a
        cluster, from the executors that run the clean-up tasks).
    worker_cache_dir : the folder for those files on each worker (default: the worker's
        temporary folder, ``tempfile.gettempdir()``).
    checkpoint : a file on the driver the state of EM is written to (atomically) every
        ``checkpoint_every`` iterations, so that a fit whose driver died can go on.
    resume : a checkpoint file to continue from (same data and options; refused naming
        what differs); the fit ends with the model it would have given uninterrupted, bit
        for bit. Checkpointing goes on to ``checkpoint``, or to ``resume`` if none.
    _task_hook : for fault-injection tests only: called at the start of every statistics
        task (``"jobs"``) or of every iteration in every barrier task, with the pass number
        (1 for the first pass over the data), in the executor.

    Returns
    -------
    gaussmix.GaussianMixture, fitted (``predict``, ``score_samples``... work in-process;
    ``model_.to_json()`` is the model to broadcast for scoring on the cluster).
    """
    import pyarrow as pa
    from pyspark.sql import functions as F

    est = _distributed.make_estimator(
        k,
        dict(
            covariance_type=covariance_type, tol=tol, reg_covar=reg_covar,
            max_iter=max_iter, n_init=n_init, init_params=init_params,
            weights_init=weights_init, means_init=means_init,
            precisions_init=precisions_init, random_state=random_state,
            verbose=verbose, verbose_interval=verbose_interval,
        ),
    )
    col, names = _features_column(df, features)
    cols = [col.alias("x")]
    if weight_col is not None:
        cols.append(F.col(weight_col).cast("double").alias("w"))
    prepared = df.select(*cols)
    if cache:
        prepared = prepared.persist()
    sc = prepared.sparkSession.sparkContext
    try:
        run_mode, slots = _choose_mode(mode, sc, checkpoint is not None or resume is not None)
    except BaseException:
        if cache:
            prepared.unpersist()
        raise
    keep = sc.master.startswith("local") if worker_cache is None else bool(worker_cache)
    keep = keep and run_mode == "jobs"
    folder = _worker_dir(worker_cache_dir, uuid.uuid4().hex)
    n_parts = prepared.rdd.getNumPartitions() if keep else 0
    try:
        if names is not None:
            d = len(names)
        else:
            first = prepared.select(F.size("x").alias("d")).first()
            if first is None:
                raise ValueError("the DataFrame has no rows")
            d = int(first["d"])
        has_w = weight_col is not None
        passes = [0]
        hook = _task_hook

        parts_done: Dict[int, bool] = {}

        def arrow_pass(js: str, pass_no: int, only: Optional[List[int]]) -> Dict[int, bytes]:
            """Statistics of the partitions (``only`` those) read from the DataFrame; with
            ``keep``, each task also leaves its partition's file."""

            def partition_stats(batches: Iterator[Any]) -> Iterator[Any]:
                from pyspark import TaskContext

                from gaussmix import _core as core
                from gaussmix._distributed import check_finite
                from gaussmix.spark import _list_column_to_numpy, _PartitionWriter

                if hook is not None:
                    hook(pass_no)
                ctx = TaskContext.get()
                pid = ctx.partitionId()
                m = core.Model.from_json(js)
                writer = None
                if keep:
                    tag = f".{ctx.attemptNumber()}.{os.getpid()}.tmp"
                    writer = _PartitionWriter(folder, pid, tag)
                acc = None
                try:
                    for b in batches:
                        if b.num_rows == 0:
                            continue
                        x = _list_column_to_numpy(b.column(0), d, names)
                        if pass_no == 1:
                            check_finite(x, names, f"partition {pid}")
                        w = None
                        if has_w:
                            wc = b.column(1)
                            if wc.null_count:
                                raise ValueError("null sample weight")
                            w = np.ascontiguousarray(wc.to_numpy(zero_copy_only=False), dtype=np.float64)
                        if writer is not None:
                            writer.add(x, w)
                        s = core.Stats.from_chunk(m, x, w, parallel=False)
                        if acc is None:
                            acc = s
                        else:
                            acc.merge(s)
                except BaseException:
                    if writer is not None:
                        writer.abandon()
                    raise
                if writer is not None:
                    writer.close()
                yield pa.RecordBatch.from_arrays(
                    [pa.array([pid], pa.int32()),
                     pa.array([None if acc is None else acc.to_bytes()], pa.binary())],
                    names=["part", "stats"],
                )  # fmt: skip

            src = prepared
            if only is not None:
                src = prepared.where(F.spark_partition_id().isin(only))
            rows = src.mapInArrow(partition_stats, "part int, stats binary").collect()
            return {int(r["part"]): r["stats"] for r in rows}

        def stats_pass(model: _core.Model) -> List[bytes]:
            js = model.to_json()
            passes[0] += 1
            pass_no = passes[0]
            if not keep or not parts_done:
                got = arrow_pass(js, pass_no, None)
                parts_done.update({p: True for p in got})
            else:

                def cached(pid: int, _rows: Iterator[Any]) -> Iterator[Tuple[int, str, Optional[bytes]]]:
                    from gaussmix.spark import _cached_partition_stats

                    if hook is not None:
                        hook(pass_no)
                    status, b = _cached_partition_stats(folder, pid, d, js)
                    yield pid, status, b

                res = sc.parallelize(range(n_parts), n_parts).mapPartitionsWithIndex(cached).collect()
                got = {pid: b for pid, status, b in res if status == "ok"}
                missed = sorted(pid for pid, status, _ in res if status == "miss")
                if missed:
                    got.update(arrow_pass(js, pass_no, missed))
            return [bytes(got[p]) for p in sorted(got) if got[p] is not None]

        sample = sample_w = None
        if not _distributed.all_given(est):
            n = prepared.count()
            frac = min(1.0, 1.5 * init_sample_rows / max(n, 1))
            seed = _distributed._seed_from(random_state) % (2**31)
            sampled = prepared if frac >= 1.0 else prepared.sample(False, frac, seed)
            table = sampled.limit(init_sample_rows).toArrow() if hasattr(sampled, "toArrow") else None
            if table is not None:
                sample = _list_column_to_numpy(table.column("x"), d, names).copy() if table.num_rows else np.zeros((0, d))
                if has_w:
                    sample_w = np.asarray(table.column("w").to_numpy(), dtype=np.float64)
            else:  # Spark < 4: through pandas
                pdf = sampled.limit(init_sample_rows).toPandas()
                sample = np.array([np.asarray(v, dtype=np.float64) for v in pdf["x"]]).reshape(-1, d)
                if has_w:
                    sample_w = pdf["w"].to_numpy(dtype=np.float64)
        if sample is not None:
            _distributed.check_finite(sample, names, "the initialisation sample")
        starts = _distributed.initial_models(est, d, sample, sample_w)
        if run_mode == "barrier":
            assert slots is not None
            best = _barrier_fit(prepared, d, names, has_w, est, starts, slots, hook)
            return _distributed.finish(est, best, d, names)
        ckpt = _distributed.checkpointer(
            "spark", est, checkpoint, checkpoint_every, resume,
            init_sample_rows=init_sample_rows, features=features, weight_col=weight_col,
        )
        return _distributed.fit(
            stats_pass, est, d, starts, feature_names=names, checkpointer=ckpt
        )
    finally:
        if keep:
            _remove_worker_files(prepared, folder, n_parts)
        if cache:
            prepared.unpersist()


def _remove_worker_files(prepared: Any, folder: str, n_parts: int) -> None:
    """Removes a fit's partition files: on the driver's machine, and on the workers that
    run one clean-up task per partition (best effort: a failure here does not fail the fit)."""

    def remove(_rows: Iterator[Any]) -> Iterator[int]:
        shutil.rmtree(folder, ignore_errors=True)
        yield 0

    try:
        if n_parts:
            sc = prepared.sparkSession.sparkContext
            sc.parallelize(range(n_parts), n_parts).mapPartitions(remove).collect()
    except Exception:  # noqa: BLE001 - the fit's own result or error matters more
        pass
    shutil.rmtree(folder, ignore_errors=True)
