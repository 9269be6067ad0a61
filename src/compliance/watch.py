"""`compliance watch`: a live feed evaluated with durable state (docs/monitoring.md).

Records are read as they arrive (JSON Lines or CSV; `--follow` tails a growing file and
survives rotation) and fed to a `Monitor`. Every record read and every announcement made
is kept in a SQLite state file (WAL), committed per batch *before* the batch's
announcements are written. Each announcement is one JSON line with a `seq` number:

    {"seq": 7, "change": "raised", "finding": {...}, "record": {"source": …, "line": …}}

Restarting with the same state replays the stored records into a fresh `Monitor` (it
announces nothing while it replays), then writes whatever was committed but not yet
written: with `--output FILE` the file's own last `seq` says what was written, so each
announcement reaches the file exactly once across `kill -9` and restarts; on stdout the
state's mark of what was flushed does, so a line may at worst be written twice (readers
de-duplicate by `seq`). A record re-read after a restart — same source, line and content
— is not fed again; a record re-sent with other lines is a duplicate, as in `evaluate`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import select
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from compliance import __version__
from compliance.engine.monitor import Changes, Monitor
from compliance.errors import ComplianceError
from compliance.io._common import printable
from compliance.io.readers import parse_stream
from compliance.ledger import RawRecord
from compliance.report import Report
from compliance.rulebook.rulebook import Rulebook

__all__ = ["STATE_FORMAT", "WatchState", "report_from_state", "watch"]

STATE_FORMAT = 1
"""Version of the state file's layout; a file of another version is refused."""

BATCH = 1000  # records per commit when the feed keeps coming (--batch)
POLL_SECONDS = 0.25  # how often --follow looks for new lines
READ_BYTES = 1 << 16  # read from a feed file at a time


def _fingerprint(rulebook: Rulebook) -> str:
    text = json.dumps([r.model_dump(mode="json") for r in rulebook.rules], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# `json.dumps(data, sort_keys=True, default=str)` and `json.dumps(data, default=str)`,
# each encoder made once rather than at every record.
_SORTED_JSON = json.JSONEncoder(sort_keys=True, default=str).encode
_RECORD_JSON = json.JSONEncoder(default=str).encode


def _digest(data: Any) -> str:
    text = _SORTED_JSON(data)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class WatchState:
    """The SQLite state file: records read, announcements made, what was written."""

    def __init__(self, path: Path, rulebook: Rulebook, lateness: int | None = None) -> None:
        """`lateness` in days, for a new state; an existing one keeps its own (None:
        whatever it has), and another is refused."""
        self.path = path
        self.lateness = lateness
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._schema(rulebook)
            # The last line stored from each source: a line past it cannot have been read
            # before, so `seen` needs no query for it (a new feed's every line).
            self._last_line: dict[str, int] = dict(
                self.db.execute(
                    "SELECT source, MAX(line) FROM records WHERE line IS NOT NULL GROUP BY source"
                ).fetchall()
            )
        except sqlite3.DatabaseError as e:
            raise ComplianceError(f"{path}: not a compliance state file ({e})") from None

    def _schema(self, rulebook: Rulebook) -> None:
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        fingerprint = _fingerprint(rulebook)
        if not meta:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("format", str(STATE_FORMAT)),
                    ("written_by", __version__),
                    ("rulebook", fingerprint),
                    ("flushed", "0"),
                    ("lateness", "none" if self.lateness is None else str(self.lateness)),
                ],
            )
            db.execute(
                "CREATE TABLE records (seq INTEGER PRIMARY KEY, source TEXT, line INTEGER, "
                "idx INTEGER, data TEXT, problems TEXT, digest TEXT)"
            )
            db.execute("CREATE INDEX records_at ON records (source, line, digest)")
            db.execute("CREATE TABLE announcements (seq INTEGER PRIMARY KEY, body TEXT)")
            db.execute("COMMIT")
            return
        if meta.get("format") != str(STATE_FORMAT):
            raise ComplianceError(
                f"{self.path}: state file format {meta.get('format')!r} written by compliance "
                f"{meta.get('written_by', '?')}; this is compliance {__version__}, which reads "
                f"format {STATE_FORMAT} only — use the version that wrote it, or a new --state"
            )
        if meta.get("rulebook") != fingerprint:
            raise ComplianceError(
                f"{self.path}: the state was built with other rules; its announcements would "
                "not match these — use the same --rules, or a new --state"
            )
        # The records behind the horizon were refused and what it passed let go: a state
        # replayed with another lateness would not be what was announced.
        stored = meta.get("lateness", "none")  # states from before --lateness: none
        kept = None if stored == "none" else int(stored)
        if self.lateness is not None and self.lateness != kept:
            had = "no --lateness" if kept is None else f"--lateness {kept}"
            raise ComplianceError(
                f"{self.path}: the state was built with {had}; what it refused and let go "
                f"would differ with --lateness {self.lateness} — use {had} (or leave "
                "--lateness out), or a new --state"
            )
        self.lateness = kept

    def records(self) -> Iterator[RawRecord]:
        for source, line, idx, data, problems in self.db.execute(
            "SELECT source, line, idx, data, problems FROM records ORDER BY seq"
        ):
            yield RawRecord(
                json.loads(data), source, line=line, index=idx, problems=tuple(json.loads(problems))
            )

    def seen(self, record: RawRecord) -> bool:
        """Was this very record (source, line, content) read before?"""
        last = self._last_line.get(record.source)
        if record.line is not None and (last is None or record.line > last):
            return False
        row = self.db.execute(
            "SELECT 1 FROM records WHERE source = ? AND line IS ? AND digest = ? LIMIT 1",
            (record.source, record.line, _digest(record.data)),
        ).fetchone()
        return row is not None

    def last_seq(self) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM announcements").fetchone()
        return int(row[0] or 0)

    def commit(self, records: list[RawRecord], announcements: list[tuple[int, str]]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO records (source, line, idx, data, problems, digest) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    r.source,
                    r.line,
                    r.index,
                    _RECORD_JSON(r.data),
                    json.dumps(list(r.problems)) if r.problems else "[]",
                    _digest(r.data),
                )
                for r in records
            ],
        )
        db.executemany("INSERT INTO announcements VALUES (?, ?)", announcements)
        db.execute("COMMIT")
        last = self._last_line
        for r in records:
            if r.line is not None and r.line > last.get(r.source, 0):
                last[r.source] = r.line

    def announcements_after(self, seq: int) -> list[str]:
        rows = self.db.execute(
            "SELECT body FROM announcements WHERE seq > ? ORDER BY seq", (seq,)
        ).fetchall()
        return [body for (body,) in rows]

    @property
    def flushed(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'flushed'").fetchone()
        return int(row[0])

    def mark_flushed(self, seq: int) -> None:
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'flushed'", (str(seq),))

    def close(self) -> None:
        self.db.close()


def _resume(state: WatchState, rulebook: Rulebook, as_of: date | None) -> Monitor:
    monitor = Monitor(rulebook, as_of=as_of, lateness=state.lateness)
    # The process lives for the feed: what the imports, the rulebook and the monitor made
    # is never garbage, so the collector need not walk it at every full collection
    # (about a tenth of the CPU of a feed; docs/monitoring.md).
    gc.freeze()
    for record in state.records():
        monitor.feed_record(record)
    return monitor


def _since_announced(state: WatchState, monitor: Monitor) -> list[tuple[str, dict[str, Any]]]:
    """What must be raised or withdrawn so the announcements say what is true now."""
    standing: dict[str, dict[str, Any]] = {}
    for body in state.announcements_after(0):
        a = json.loads(body)
        key = json.dumps(a.get("finding"), sort_keys=True)
        if a["change"] == "raised":
            standing[key] = a["finding"]
        elif a["change"] == "withdrawn":
            standing.pop(key, None)
    now = {json.dumps(f.to_dict(), sort_keys=True): f.to_dict() for f in monitor.findings()}
    withdrawn = [("withdrawn", f) for k, f in standing.items() if k not in now]
    raised = [("raised", f) for k, f in now.items() if k not in standing]
    return withdrawn + raised


def report_from_state(state_path: Path, rulebook: Rulebook, as_of: date | None = None) -> Report:
    """The report of everything a state file holds (`compliance watch --report`)."""
    if not state_path.exists():
        raise ComplianceError(f"{state_path}: no such state file")
    state = WatchState(state_path, rulebook)
    try:
        return _resume(state, rulebook, as_of).report()
    finally:
        state.close()


class _Output:
    """Announcement lines to a file (exactly once: its last `seq` says what is there) or
    to stdout (the state's `flushed` mark says)."""

    def __init__(self, path: Path | None, state: WatchState) -> None:
        self.state = state
        self.path = path
        if path is None:
            self.handle: IO[str] = sys.stdout
            self.written = state.flushed
            return
        self.written = _last_seq_in(path)
        self.handle = path.open("a", encoding="utf-8")

    def catch_up(self) -> None:
        self.write(self.state.announcements_after(self.written))

    def write(self, bodies: list[str]) -> None:
        if not bodies:
            return
        self.handle.write("".join(body + "\n" for body in bodies))
        self.handle.flush()
        if self.path is not None:
            os.fsync(self.handle.fileno())
        self.written = json.loads(bodies[-1])["seq"]
        if self.path is None:
            self.state.mark_flushed(self.written)

    def close(self) -> None:
        if self.path is not None:
            self.handle.close()


def _last_seq_in(path: Path) -> int:
    """The `seq` of the file's last complete line; a torn last line is cut off."""
    if not path.exists():
        return 0
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail = b""
        position = size
        while position > 0 and tail.count(b"\n") < 2:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
        complete = tail[: tail.rfind(b"\n") + 1] if b"\n" in tail else b""
        torn = len(tail) - len(complete)
        if torn:
            handle.truncate(size - torn)
        lines = complete.rstrip(b"\n").rsplit(b"\n", 1)
        try:
            return int(json.loads(lines[-1])["seq"]) if lines[-1] else 0
        except (ValueError, KeyError, TypeError):
            raise ComplianceError(
                f"{path}: the last line is not an announcement of compliance watch; "
                "give --output a file that only watch writes"
            ) from None


class _Feed:
    """Lines of a log as they arrive, for the readers' parsers. Before it would wait for
    more input it calls `idle` (the watch commits its batch then); `--follow` waits for
    the file to grow and reopens it when it is rotated (renamed or truncated).

    Lines end as in the file `evaluate` reads (`open(newline="")`): at `\\n`, `\\r\\n` or a
    lone `\\r`, so a CSV saved with classic Mac line ends gives the same records; a
    `\\r` last in what has arrived waits for the next byte, which may make it `\\r\\n`.
    A byte-order mark is dropped at the start of each file (as `utf-8-sig` drops it), not
    of each line; a rotated CSV's header is skipped, whatever its line end or mark."""

    def __init__(
        self,
        path: str,
        follow: bool,
        idle: Callable[[], None],
        stopping: Callable[[], bool],
        has_header: bool,
    ) -> None:
        self.path, self.follow, self.idle, self.stopping = path, follow, idle, stopping
        self.has_header = has_header
        self.stdin = path == "-"
        self.handle: IO[bytes] = sys.stdin.buffer if self.stdin else self._open()
        self.buffer = b""
        self.pos = 0  # where in the buffer the next line starts
        self.header: bytes | None = None  # the first file's first line, without its end
        # Where in the buffer each file not yet read past starts. Lines never span files:
        # an old file's unended last line is ended at rotation.
        self.starts = [0]

    def _open(self) -> IO[bytes]:
        try:
            return open(self.path, "rb")
        except OSError as e:
            raise ComplianceError(f"{self.path}: cannot read feed: {e.strerror or e}") from None

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        while True:
            end = self._line_end()
            if end < 0:
                if self.stopping():
                    raise StopIteration
                chunk = self._read()
                if chunk:
                    self._append(chunk)
                    continue
                if not self.follow or self.stopping():
                    if self.pos == len(self.buffer):
                        raise StopIteration
                    end = len(self.buffer)  # the last line, unended
                else:
                    self.idle()
                    if not self._rotated():
                        time.sleep(POLL_SECONDS)
                    continue
            line = self._take(end)
            if line is not None:
                return line.decode("utf-8", "surrogateescape")

    def _append(self, data: bytes) -> None:
        """More bytes at the buffer's end; the lines read are let go."""
        pos = self.pos
        self.buffer = self.buffer[pos:] + data
        self.starts = [start - pos for start in self.starts]
        self.pos = 0

    def _line_end(self) -> int:
        """Where the next whole line ends in the buffer (after its line end), or -1."""
        buffer, pos = self.buffer, self.pos
        newline = buffer.find(b"\n", pos)
        ret = buffer.find(b"\r", pos, len(buffer) if newline < 0 else newline)
        if ret < 0:
            return -1 if newline < 0 else newline + 1
        if ret + 1 in self.starts:
            return ret + 1  # a rotated file's last byte
        if ret + 1 == len(buffer):
            return -1  # `\r` last: the next byte tells `\r\n` from a lone `\r`
        return ret + 2 if buffer[ret + 1] == 0x0A else ret + 1

    def _take(self, end: int) -> bytes | None:
        """The next line, up to `end`; None for a rotated file's header."""
        line = self.buffer[self.pos : end]
        first = bool(self.starts) and self.starts[0] == self.pos
        self.pos = end
        if not first:
            return line
        del self.starts[0]
        line = line.removeprefix(b"\xef\xbb\xbf")
        if self.header is None:
            self.header = line.rstrip(b"\r\n")
        elif self.has_header and line.rstrip(b"\r\n") == self.header:
            return None  # a rotated CSV's header, not a record
        return line

    def _read(self) -> bytes:
        if self.stdin:
            ready, _, _ = select.select([self.handle], [], [], 0)
            if not ready:
                self.idle()
            # What has arrived, not a line: a producer writing lone CRs is read as it
            # writes, and select sees all there is (no reader's buffer holds lines back).
            return os.read(self.handle.fileno(), READ_BYTES)
        return self.handle.read(READ_BYTES)

    def _rotated(self) -> bool:
        if self.stdin:
            return False
        try:
            now = os.stat(self.path)
        except OSError:
            return False  # between the rename and the new file: look again
        current = os.fstat(self.handle.fileno())
        if now.st_ino == current.st_ino and now.st_size >= self.handle.tell():
            return False
        rest = self.handle.read()
        self.handle.close()
        self.handle = self._open()
        pending = self.buffer[self.pos :] + rest
        if pending and not pending.endswith((b"\n", b"\r")):
            rest += b"\n"  # the old file's last line ends with the old file
        self._append(rest)
        self.starts.append(len(self.buffer))
        return True


@dataclass
class _Crash:
    """Fault injection for the crash-safety test: `COMPLIANCE_WATCH_CRASH=PHASE:N` kills
    the process (SIGKILL, as `kill -9` would) at the first batch boundary after N records,
    in PHASE `feed` (before the commit), `commit` (after it, before writing) or `write`
    (in the middle of an announcement line)."""

    phase: str = ""
    after: int = 0

    @classmethod
    def from_environment(cls) -> _Crash:
        spec = os.environ.get("COMPLIANCE_WATCH_CRASH", "")
        phase, _, count = spec.partition(":")
        return cls(phase, int(count)) if phase and count.isdigit() else cls()

    def at(self, phase: str, events: int) -> None:
        if self.phase == phase and events >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)

    def torn(self, out: _Output, bodies: list[str], events: int) -> None:
        if self.phase == "write" and events >= self.after and bodies:
            out.handle.write(bodies[0][: len(bodies[0]) // 2])
            out.handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class _Status:
    events: int = 0
    findings: int = 0
    last: str = ""

    def show(self) -> None:
        sys.stderr.write(
            f"\r{self.events:,} events, {self.findings:,} findings, last date {self.last or '—'}"
        )
        sys.stderr.flush()


def watch(
    feed: str,
    state_path: Path,
    rulebook: Rulebook,
    *,
    follow: bool = False,
    output: Path | None = None,
    fmt: str | None = None,
    batch_size: int = BATCH,
    as_of: date | None = None,
    lateness: int | None = None,
) -> int:
    """Run `compliance watch` until the feed ends (with `follow`: until SIGTERM/SIGINT).

    `fmt` is `jsonl` or `csv`; by default the file name's suffix decides (stdin: JSON
    Lines). `lateness` (days) is the monitor's (`Monitor(lateness=…)`), kept in a new
    state; None: the state's own."""
    fmt = fmt or ("csv" if Path(feed).suffix.lower() == ".csv" else "jsonl")
    stop = {"now": False}
    crash = _Crash.from_environment()

    def ask_stop(signum: int, frame: object) -> None:
        stop["now"] = True

    previous = {s: signal.signal(s, ask_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    state = WatchState(state_path, rulebook, lateness)
    out: _Output | None = None
    try:
        monitor = _resume(state, rulebook, as_of)
        out = _Output(output, state)
        out.catch_up()
        seq = state.last_seq()
        # Deadlines that passed since the last run (or another --as-of): the standing
        # findings differ from what was announced; announce the difference first.
        changed = _since_announced(state, monitor)
        if changed:
            cause = {"reason": f"evaluation date {monitor.as_of}"}
            bodies = []
            for change, finding in changed:
                seq += 1
                bodies.append(
                    (seq, json.dumps({"seq": seq, "change": change, "finding": finding,
                                      "record": cause}, ensure_ascii=False))
                )  # fmt: skip
            state.commit([], bodies)
            out.write([b for _, b in bodies])
        status = _Status(events=monitor.report().accounting.read, findings=len(monitor.findings()))
        live = sys.stderr.isatty()
        batch: list[RawRecord] = []
        lines: list[tuple[int, str]] = []

        def flush() -> None:
            if batch or lines:
                crash.at("feed", status.events)
                state.commit(batch, lines)
                crash.at("commit", status.events)
                assert out is not None
                crash.torn(out, [body for _, body in lines], status.events)
                out.write([body for _, body in lines])
                batch.clear()
                lines.clear()
            if live:
                status.show()

        handle = _Feed(feed, follow, flush, lambda: stop["now"], has_header=fmt == "csv")
        name = "<stdin>" if feed == "-" else feed
        for record in parse_stream(handle, name, fmt):
            if state.seen(record):
                continue
            changes = monitor.feed_record(record)
            batch.append(record)
            status.events += 1
            for body in _announcements(changes, record):
                seq += 1
                lines.append((seq, json.dumps({"seq": seq, **body}, ensure_ascii=False)))
            status.findings += len(changes) - len(changes.withdrawn)
            if not changes.rejected:
                # An accepted record's date: a rejected one's may be anything the feed
                # holds, and the terminal must not run it (escape sequences).
                status.last = printable(str(record.data.get("date", status.last)))
            if len(batch) >= batch_size:
                flush()
            if stop["now"]:
                break
        flush()
        if live:
            sys.stderr.write("\n")
        return 0
    finally:
        if out is not None:
            out.close()
        state.close()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _announcements(changes: Changes, record: RawRecord) -> Iterator[dict[str, Any]]:
    cause = {"source": record.source, "line": record.line, "id": record.data.get("id")}
    for finding in changes.withdrawn:
        yield {"change": "withdrawn", "finding": finding.to_dict(), "record": cause}
    for finding in changes:
        yield {"change": "raised", "finding": finding.to_dict(), "record": cause}
    for rejection in changes.rejected:
        yield {"change": "rejected", "rejection": rejection.to_dict(), "record": cause}
