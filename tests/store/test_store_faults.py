"""A store file that cannot or must not be written: held by another process, read-only, corrupt,
foreign, or from a newer flowkit. Each case gets a ``flowkit.StoreError`` that says what is wrong and
what to do, and the file is left as it was.

Read-only files: these tests run as root in CI, and root ignores permission bits (chmod 0o444 does
not stop it), so a read-only *file* and a read-only *folder* are made with ``chattr +i`` (immutable:
even root cannot write; skipped where the filesystem does not support it). Paths that can never be
written (under /proc, below a regular file, a folder itself) and ``SqliteStore(path, readonly=True)``
are tested everywhere.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit import StoreError
from flowkit.store import SqliteStore

REPO = Path(__file__).resolve().parents[2]
WF = {
    "name": "faults",
    "version": 1,
    "tasks": [{"name": "inc", "taskReferenceName": "inc", "inputParameters": {"x": "${workflow.input.x}"}}],
    "outputParameters": {"x": "${inc.output.x}"},
}


def inc(x: int = 0) -> dict[str, Any]:
    return {"x": x + 1}


def run(store: Any, x: int = 1, **kwargs: Any) -> Any:
    return flowkit.run(WF, {"x": x}, workers={"inc": inc}, store=store, executor="inline", **kwargs)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def close_cached(path: Path) -> None:
    """Close this process's shared SqliteStore for ``path`` (runs keep their connection open)."""
    from flowkit.store import _OPEN

    found = _OPEN.pop(str(path.resolve()), None)
    if found is not None:
        found.close()


def make_store(path: Path, runs: int = 1) -> list[str]:
    ids = [run(path, x=i).workflow_id for i in range(runs)]
    close_cached(path)
    return ids


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


# A process that runs WF on a store with a worker that blocks until a release file appears.
HOLDER = textwrap.dedent("""
    import pathlib, sys, time, flowkit
    store, marker, release = sys.argv[1:4]
    def slow(x: int = 0) -> dict:
        pathlib.Path(marker).write_text("in worker")
        deadline = time.time() + 60
        while not pathlib.Path(release).exists() and time.time() < deadline:
            time.sleep(0.01)
        return {"x": x + 100}
    wf = {"name": "holder", "version": 3, "tasks": [{"name": "slow", "taskReferenceName": "slow",
          "inputParameters": {"x": "${workflow.input.x}"}}], "outputParameters": {"x": "${slow.output.x}"}}
    ex = flowkit.run(wf, {"x": 1}, workers={"slow": slow}, store=store, executor="inline", correlation_id="held")
    print(ex.status, ex.workflow_id)
""")

# A second process trying to run on the same store: prints the StoreError it gets.
INTRUDER = textwrap.dedent("""
    import sys, flowkit
    wf = {"name": "intruder", "tasks": [{"name": "t", "taskReferenceName": "t"}]}
    try:
        ex = flowkit.run(wf, {}, workers={"t": lambda: {}}, store=sys.argv[1], executor="inline")
    except flowkit.StoreError as exc:
        print("REFUSED", exc)
        sys.exit(3)
    print("RAN", ex.status)
""")


@contextmanager
def holder(tmp_path: Path, db: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    marker, release = tmp_path / "in_worker", tmp_path / "release"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(marker), str(release)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the holder did not reach its worker"
            time.sleep(0.01)
        yield proc, release
    finally:
        if proc.poll() is None:
            release.touch()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ locking
def test_store_held_by_a_running_process_is_refused_and_left_intact(tmp_path: Path) -> None:
    db = tmp_path / "held.db"
    with holder(tmp_path, db) as (proc, release):
        # this process: refused, with the holder's pid and the fix
        with pytest.raises(StoreError) as caught:
            run(db)
        message = str(caught.value)
        assert f"pid {proc.pid})" in message
        assert str(db) in message
        assert "Fix:" in message and "readonly=True" in message and "stop the other process" in message
        with pytest.raises(StoreError, match=rf"pid {proc.pid}\)"):
            flowkit.open(db, workers={"inc": inc}, background=False)  # recovery would write too

        # ... but it may look: readonly=True works while the other process holds the writer lock
        reader = SqliteStore(db, readonly=True)
        rows = reader.execution_rows()
        assert [(r["name"], r["status"], r["correlation_id"]) for r in rows] == [("holder", "RUNNING", "held")]
        record = reader.execution(rows[0]["workflow_id"])  # written before its first task started
        deadline = time.monotonic() + 10
        while record is not None and not record[1] and time.monotonic() < deadline:
            time.sleep(0.01)  # the task's start is written within batch_ms, while its worker runs
            record = reader.execution(rows[0]["workflow_id"])
        assert record is not None and [t["ref"] for t in record[1]] == ["slow"]
        assert record[1][0]["status"] == "IN_PROGRESS"
        reader.close()

        # another process: refused the same way (it writes nothing)
        other = subprocess.run(
            [sys.executable, "-c", INTRUDER, str(db)], env=env(), capture_output=True, text=True, timeout=60
        )
        assert other.returncode == 3, other.stdout + other.stderr
        assert f"in use by another flowkit process (pid {proc.pid})" in other.stdout
        assert (
            "two processes writing one store could lose updates or run a task twice, so this one is refused"
            in other.stdout
        )

        release.touch()
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    status, holder_id = out.split()
    assert status == "COMPLETED"

    # the holder's run is complete and nothing of the refused attempts is in the store
    rows = _rows(db, "SELECT workflow_id, name, status FROM executions")
    assert rows == [(holder_id, "holder", "COMPLETED")]
    assert _rows(db, "SELECT name, version FROM workflow_defs") == [("holder", 3)]
    assert _rows(db, "SELECT ref, status FROM tasks") == [("slow", "COMPLETED")]

    # once the holder is gone, this process writes: both executions are kept (no lost update)
    ex = run(db, x=41)
    assert ex.output == {"x": 42}
    reader = SqliteStore(db, readonly=True)
    assert sorted((r["name"], r["status"]) for r in reader.execution_rows()) == [
        ("faults", "COMPLETED"),
        ("holder", "COMPLETED"),
    ]
    assert reader.execution(holder_id)[0]["status"] == "COMPLETED"  # type: ignore[index]
    reader.close()
    close_cached(db)


def test_two_processes_on_one_store_never_lose_an_update(tmp_path: Path) -> None:
    """Two processes start runs on one store at once: one is refused with a clear message; every
    execution that ran is in the store."""
    db = tmp_path / "shared.db"
    with holder(tmp_path, db) as (proc, release):
        intruders = [
            subprocess.Popen(
                [sys.executable, "-c", INTRUDER, str(db)],
                env=env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=60) + (p.returncode,) for p in intruders]
        release.touch()
        held_out, _ = proc.communicate(timeout=30)
    for out, err, code in results:
        assert code == 3, out + err
        assert out.startswith("REFUSED") and f"(pid {proc.pid})" in out and "Fix:" in out
    # after the holder: a process that runs is recorded next to the holder's execution
    after = subprocess.run(
        [sys.executable, "-c", INTRUDER, str(db)], env=env(), capture_output=True, text=True, timeout=60
    )
    assert after.returncode == 0 and after.stdout.strip() == "RAN COMPLETED", after.stdout + after.stderr
    assert sorted(_rows(db, "SELECT name, status FROM executions")) == [
        ("holder", "COMPLETED"),
        ("intruder", "COMPLETED"),
    ]
    assert held_out.startswith("COMPLETED")


def test_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    with holder(tmp_path, db) as (proc, _release):
        with pytest.raises(StoreError, match=rf"pid {proc.pid}\)"):
            run(db)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert (Path(str(db) + ".lock")).read_text().split()[0] == str(proc.pid)  # a stale pid is left behind
    ex = run(db, x=1)  # the kernel released the lock with the process
    assert ex.output == {"x": 2}
    assert sorted(_rows(db, "SELECT name, status FROM executions")) == [("faults", "COMPLETED"), ("holder", "RUNNING")]
    close_cached(db)


# ------------------------------------------------------------------------------------------ read-only
def test_readonly_store_object_refuses_to_record_a_run(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    (wid,) = make_store(db)
    before = digest(db)
    store = SqliteStore(db, readonly=True)
    with pytest.raises(StoreError, match=r"was opened with readonly=True: runs cannot be recorded in it\. Fix:"):
        run(store)
    with pytest.raises(StoreError, match="was opened with readonly=True"):
        with store.session():
            store.save_definitions([flowkit.WorkflowDef.from_json(WF)], [])
    assert [r["workflow_id"] for r in store.execution_rows()] == [wid]  # still usable for looking
    store.close()
    assert digest(db) == before


def test_readonly_open_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "nothing" / "here.db"
    with pytest.raises(StoreError, match=r"does not exist\. Fix: check the path"):
        SqliteStore(db, readonly=True).execution_rows()
    assert not db.parent.exists()


@pytest.mark.parametrize("where", ["under /proc", "below a file", "a folder"])
def test_paths_that_cannot_be_a_store(tmp_path: Path, where: str) -> None:
    (tmp_path / "plain.txt").write_text("not a folder")
    (tmp_path / "folder").mkdir()
    path = {
        "under /proc": Path("/proc/flowkit-no-such/x.db"),
        "below a file": tmp_path / "plain.txt" / "x.db",
        "a folder": tmp_path / "folder",
    }[where]
    with pytest.raises(StoreError) as caught:
        run(path)
    message = str(caught.value)
    assert str(path) in message and "Fix:" in message
    assert (tmp_path / "plain.txt").read_text() == "not a folder"
    assert list((tmp_path / "folder").iterdir()) == []


def _chattr(flag: str, *paths: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr {flag} not supported here: {done.stderr.strip()}")


def test_immutable_store_file_is_read_only_even_for_root(tmp_path: Path) -> None:
    db = tmp_path / "frozen.db"
    (wid,) = make_store(db)
    before = digest(db)
    _chattr("+i", db)
    try:
        with pytest.raises(StoreError, match=r"is read-only .*Fix: make it writable, or open it with readonly=True"):
            run(db)
        close_cached(db)
        reader = SqliteStore(db, readonly=True)  # the suggested fix works
        assert [r["workflow_id"] for r in reader.execution_rows()] == [wid]
        reader.close()
    finally:
        _chattr("-i", db)
    assert digest(db) == before


def test_store_in_an_immutable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frozen"
    folder.mkdir()
    _chattr("+i", folder)
    try:
        with pytest.raises(StoreError, match=r"cannot create the lock file .*Fix: choose a writable path"):
            run(folder / "new.db")
        assert list(folder.iterdir()) == []
    finally:
        _chattr("-i", folder)


# ------------------------------------------------------------------------------------------ not a (readable) store
def _random(tmp_path: Path) -> Path:
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(3 * 4096))
    return path


def _garbled_header(tmp_path: Path) -> Path:
    path = tmp_path / "header.db"
    make_store(path)
    data = bytearray(path.read_bytes())
    data[16:100] = os.urandom(84)  # the magic string stays, the rest of the header is noise
    path.write_bytes(bytes(data))
    return path


def _truncated(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.db"
    make_store(path, runs=3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _garbled_schema(tmp_path: Path) -> Path:
    path = tmp_path / "schema.db"
    make_store(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)  # page 1 after the header: sqlite_master
    path.write_bytes(bytes(data))
    return path


CORRUPT = {
    "random bytes": _random,
    "garbled header": _garbled_header,
    "truncated": _truncated,
    "garbled schema page": _garbled_schema,
}


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_corrupt_file_is_refused_and_untouched(tmp_path: Path, kind: str) -> None:
    path = CORRUPT[kind](tmp_path)
    before = digest(path)
    for attempt in (
        lambda: run(path),
        lambda: flowkit.open(path, workers={"inc": inc}, background=False),
        lambda: SqliteStore(path, readonly=True).execution_rows(),
    ):
        with pytest.raises(
            StoreError, match=r"is not a readable SQLite file .*corrupt.*left untouched\. Fix: move it away"
        ):
            attempt()
        close_cached(path)
        assert digest(path) == before
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0


def test_corrupt_page_met_while_reading_is_a_store_error(tmp_path: Path) -> None:
    """A damaged table page that opening does not read: reading it raises StoreError, not sqlite3's error."""
    path = tmp_path / "page.db"
    ids = make_store(path, runs=2)
    (root,) = _rows(path, "SELECT rootpage FROM sqlite_master WHERE name='task_batches'")[0]
    page = 4096
    assert _rows(path, "PRAGMA page_size") == [(page,)]
    data = bytearray(path.read_bytes())
    data[(root - 1) * page : root * page] = os.urandom(page)
    path.write_bytes(bytes(data))
    before = digest(path)
    reader = SqliteStore(path, readonly=True)
    assert sorted(r["workflow_id"] for r in reader.execution_rows()) == sorted(ids)  # other tables read fine
    with pytest.raises(StoreError, match="is not a readable SQLite file"):
        reader.execution(ids[0])
    reader.close()
    assert digest(path) == before


def test_sqlite_file_that_is_not_a_flowkit_store(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO people VALUES (1, 'Ada');"
        "CREATE TABLE orders (id INTEGER);"
    )
    con.close()
    before = digest(path)
    for attempt in (
        lambda: run(path),
        lambda: flowkit.open(path, workers={"inc": inc}, background=False),
        lambda: SqliteStore(path, readonly=True).execution_rows(),
    ):
        with pytest.raises(
            StoreError,
            match=r"not a flowkit store \(tables: orders, people\)\. It is left untouched\. Fix: use another path",
        ):
            attempt()
        close_cached(path)
        assert digest(path) == before  # not even switched to WAL mode
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_store_from_a_newer_flowkit(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    (wid,) = make_store(path)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = digest(path)
    from flowkit.store import SCHEMA_VERSION

    expected = rf"written by a newer flowkit \(schema 99; this flowkit reads up to {SCHEMA_VERSION}\)\. It is left untouched\. Fix: upgrade flowkit"
    for attempt in (
        lambda: run(path),
        lambda: flowkit.open(path, workers={"inc": inc}, background=False),
        lambda: SqliteStore(path, readonly=True).execution_rows(),
    ):
        with pytest.raises(StoreError, match=expected):
            attempt()
        close_cached(path)
        assert digest(path) == before
    assert _rows(path, "SELECT workflow_id FROM executions") == [(wid,)]
