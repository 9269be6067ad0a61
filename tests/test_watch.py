"""`compliance watch`: durable state, exactly-once announcements, crashes and rotation."""

from __future__ import annotations

import json
import os
import pty
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import compliance
import compliance.watch as watching
from compliance.engine.findings import sort_findings
from compliance.watch import report_from_state, watch

RULES = Path(__file__).parent / "data" / "design-example.yaml"
RULEBOOK = compliance.load_rulebook(RULES)
AS_OF = "2020-06-30"
COMMAND = [sys.executable, "-m", "compliance.cli", "watch", "--rules", str(RULES), "--as-of", AS_OF]


def feed_rows(n: int, seed: int = 7) -> list[dict[str, str]]:
    """A feed with breaches, threshold notices, corrections, conflicts and rejections."""
    rnd = random.Random(seed)
    rows: list[dict[str, str]] = []
    for i in range(n):
        row = {
            "id": f"e{i}", "date": f"{2018 + i % 3}-{1 + rnd.randrange(12):02d}-{1 + rnd.randrange(28):02d}",
            "hs_code": rnd.choice(["2710", "2709", "8901"]), "destination": rnd.choice(["KP", "CN"]),
            "quantity": str(rnd.choice([1000, 50000, 120000, 300000])), "unit": "bbl",
        }  # fmt: skip
        if i % 17 == 5:
            row["supersedes"] = f"e{rnd.randrange(i)}"
        if i % 23 == 7:
            row["date"] = "2019-02-30"  # rejected
        rows.append(row)
        if i % 31 == 11:
            rows.append({**row, "quantity": "7"})  # a conflict with the row before
    return rows


def write_feed(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        COMMAND + args, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def net_findings(announcements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the announcements say is true now: raised and not withdrawn."""
    standing: list[dict[str, Any]] = []
    for a in announcements:
        if a["change"] == "raised":
            standing.append(a["finding"])
        elif a["change"] == "withdrawn":
            standing.remove(a["finding"])
    expected = [compliance.Finding.model_validate(f) for f in standing]
    return [f.to_dict() for f in sort_findings(expected)]


def findings_of(report: compliance.Report) -> list[dict[str, Any]]:
    return [f.to_dict() for f in report.findings]


def test_a_restart_resumes_and_announces_nothing_twice(tmp_path: Path) -> None:
    rows = feed_rows(300)
    feed, state, out = tmp_path / "feed.jsonl", tmp_path / "state.db", tmp_path / "out.jsonl"
    write_feed(feed, rows[:150])
    assert run([str(feed), "--state", str(state), "--output", str(out)]).returncode == 0
    write_feed(feed, rows)  # the producer re-sends everything, then the rest
    assert run([str(feed), "--state", str(state), "--output", str(out)]).returncode == 0
    announcements = lines_of(out)
    assert [a["seq"] for a in announcements] == list(range(1, len(announcements) + 1))
    expected = compliance.evaluate(rows, RULEBOOK, engine="stream", as_of=date.fromisoformat(AS_OF))
    assert net_findings(announcements) == findings_of(expected)
    done = run(["--state", str(state), "--report", "--format", "json"])
    report = json.loads(done.stdout)
    assert report["findings"] == json.loads(expected.to_json())["findings"]
    assert report["accounting"] == expected.accounting.model_dump()


@pytest.mark.parametrize("trial", range(3))
def test_kill_9_at_random_points_loses_and_repeats_nothing(tmp_path: Path, trial: int) -> None:
    rnd = random.Random(trial)
    rows = feed_rows(240, seed=trial)
    feed, state, out = tmp_path / "feed.jsonl", tmp_path / "state.db", tmp_path / "out.jsonl"
    write_feed(feed, rows)
    args = [str(feed), "--state", str(state), "--output", str(out), "--batch", "16"]
    crashes = 0
    for _ in range(4):
        phase = rnd.choice(["feed", "commit", "write"])
        point = rnd.randrange(1, len(rows))
        done = run(args, env={"COMPLIANCE_WATCH_CRASH": f"{phase}:{point}"})
        if done.returncode == -signal.SIGKILL:
            crashes += 1
        else:
            assert done.returncode == 0, done.stderr
    assert run(args).returncode == 0
    assert crashes >= 1
    announcements = lines_of(out)
    assert [a["seq"] for a in announcements] == list(range(1, len(announcements) + 1))
    expected = compliance.evaluate(rows, RULEBOOK, engine="stream", as_of=date.fromisoformat(AS_OF))
    assert net_findings(announcements) == findings_of(expected)
    report = json.loads(run(["--state", str(state), "--report", "--format", "json"]).stdout)
    assert report["accounting"] == expected.accounting.model_dump()


def test_re_sending_from_an_earlier_point_on_stdin_changes_no_finding(tmp_path: Path) -> None:
    rows = feed_rows(120)
    state = tmp_path / "state.db"
    text = "".join(json.dumps(r) + "\n" for r in rows)
    first = subprocess.run([*COMMAND, "-", "--state", str(state)], input=text[: len(text) // 2],
                           capture_output=True, text=True)  # fmt: skip
    resent = text[len(text) // 3 :]
    second = subprocess.run([*COMMAND, "-", "--state", str(state)], input=resent,
                            capture_output=True, text=True)  # fmt: skip
    assert first.returncode == second.returncode == 0
    announcements = [json.loads(x) for x in (first.stdout + second.stdout).splitlines()]
    expected = compliance.evaluate(rows, RULEBOOK, engine="stream", as_of=date.fromisoformat(AS_OF))
    assert net_findings(announcements) == findings_of(expected)


class Lines:
    """A subprocess's stdout read line by line on a thread, failing (not hanging) when
    nothing comes for 30 seconds."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.queue: queue.Queue[str] = queue.Queue()
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self.queue.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def take(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < n:
            try:
                out.append(json.loads(self.queue.get(timeout=30)))
            except queue.Empty:
                raise AssertionError(f"no announcement after {len(out)} of {n}") from None
        return out


def test_follow_survives_rotation_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    feed, state = tmp_path / "feed.jsonl", tmp_path / "state.db"
    kp = {"hs_code": "2710", "destination": "KP", "unit": "bbl"}
    write_feed(feed, [{"id": "a", "date": "2019-01-01", "quantity": "600000", **kp}])
    process = subprocess.Popen([*COMMAND, str(feed), "--state", str(state), "--follow"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = Lines(process)
        first = lines.take(4)  # the breach and three notices
        assert {a["finding"]["kind"] for a in first} == {"cap_exceeded", "threshold_reached"}
        with feed.open("a") as handle:  # the file grows: the totals change
            handle.write(
                json.dumps({"id": "b", "date": "2019-01-02", "quantity": "1", **kp}) + "\n"
            )
        grown = lines.take(8)
        assert {a["record"]["id"] for a in grown} == {"b"}
        assert sorted(a["change"] for a in grown) == ["raised"] * 4 + ["withdrawn"] * 4
        feed.rename(tmp_path / "feed.jsonl.1")  # rotated, as logrotate does
        write_feed(feed, [{"id": "c", "date": "2020-03-01", "quantity": "700000", **kp}])
        rotated = lines.take(4)
        assert {a["record"]["id"] for a in rotated} == {"c"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    report = report_from_state(state, RULEBOOK, as_of=date.fromisoformat(AS_OF))
    assert report.accounting.read == 3


def test_follow_reads_a_rotated_csv_with_other_line_ends_whole(tmp_path: Path) -> None:
    """A CSV feed with a byte-order mark and CRLF rotated to one with lone CRs: the old
    file's last line, never ended, is a record; the new file's header is not. (A lone CR
    last in a growing file waits for the next byte, which may make it a CRLF.)"""
    feed, state = tmp_path / "feed.csv", tmp_path / "state.db"
    header = "id,date,hs_code,destination,quantity,unit"
    feed.write_bytes(f"\ufeff{header}\r\na,2019-01-01,2710,KP,600000,bbl\r\n".encode())
    process = subprocess.Popen([*COMMAND, str(feed), "--state", str(state), "--follow"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = Lines(process)
        assert {a["record"]["id"] for a in lines.take(4)} == {"a"}
        with feed.open("ab") as handle:
            handle.write(b"b,2019-01-02,2710,KP,1,bbl")  # no line end yet
        feed.rename(tmp_path / "feed.csv.1")
        rows = "c,2020-03-01,2710,KP,700000,bbl\rd,2020-03-02,2710,KP,1,bbl\r\n"
        feed.write_bytes(f"\ufeff{header}\r{rows}".encode())
        changes = lines.take(20)  # b and d: four withdrawn, four raised each; c: four raised
        assert sorted({a["record"]["id"] for a in changes}) == ["b", "c", "d"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    report = report_from_state(state, RULEBOOK, as_of=date.fromisoformat(AS_OF))
    assert (report.accounting.read, report.accounting.rejected) == (4, 0)


def test_a_csv_on_stdin_with_lone_carriage_returns_is_read_as_evaluate_reads_it(
    tmp_path: Path,
) -> None:
    state, log = tmp_path / "state.db", tmp_path / "log.csv"
    log.write_bytes(b"\xef\xbb\xbfid,date,hs_code,destination,quantity,unit\r"
                    b"a,2019-01-05,2710,KP,600000,bbl\rb,2019-02-30,2710,KP,1,bbl\r")  # fmt: skip
    done = subprocess.run([*COMMAND, "-", "--input-format", "csv", "--state", str(state)],
                          input=log.read_bytes(), capture_output=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    as_of = date.fromisoformat(AS_OF)
    got = report_from_state(state, RULEBOOK, as_of=as_of)
    expected = compliance.evaluate(log, RULEBOOK, as_of=as_of)
    assert (got.accounting.read, got.accounting.rejected) == (2, 1)
    assert [(r.line, r.reasons) for r in got.rejected] == [
        (r.line, r.reasons) for r in expected.rejected
    ]
    assert findings_of(got) == findings_of(expected)


def test_the_status_line_on_a_terminal_shows_accepted_dates_and_runs_no_escapes(
    tmp_path: Path,
) -> None:
    """On a terminal the status line names the last accepted record's date: a rejected
    record's date is whatever the feed holds, here an escape sequence that would clear
    the operator's screen."""
    feed, state = tmp_path / "feed.jsonl", tmp_path / "state.db"
    kp = {"hs_code": "2710", "destination": "KP", "unit": "bbl", "quantity": "5"}
    write_feed(feed, [{"id": "a", "date": "2019-03-04", **kp},
                      {"id": "b", "date": "\x1b[2J\x1b[31m", **kp}])  # fmt: skip
    controller, terminal = pty.openpty()
    try:
        try:
            done = subprocess.run([*COMMAND, str(feed), "--state", str(state)],
                                  stderr=terminal, stdout=subprocess.DEVNULL, timeout=60)  # fmt: skip
        finally:
            os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert b"\x1b" not in shown
    assert shown.decode().rstrip().endswith("2 events, 0 findings, last date 2019-03-04")


def test_a_state_file_of_another_format_is_refused(tmp_path: Path) -> None:
    feed, state = tmp_path / "feed.jsonl", tmp_path / "state.db"
    write_feed(feed, feed_rows(5))
    assert run([str(feed), "--state", str(state)]).returncode == 0
    with sqlite3.connect(state) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    done = run([str(feed), "--state", str(state)])
    assert done.returncode == 2
    assert "state file format '99'" in done.stderr and "Traceback" not in done.stderr


def test_a_state_built_with_other_rules_is_refused(tmp_path: Path) -> None:
    feed, state = tmp_path / "feed.jsonl", tmp_path / "state.db"
    write_feed(feed, feed_rows(5))
    assert run([str(feed), "--state", str(state)]).returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "compliance.cli", "watch", str(feed), "--state", str(state)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2 and "built with other rules" in done.stderr


def test_help_says_enough_to_start() -> None:
    text = subprocess.run([*COMMAND[:4], "--help"], capture_output=True, text=True).stdout
    for words in ("--state", "--follow", "--report", "SIGTERM", "seq"):
        assert words in text


def test_lateness_is_kept_in_the_state_and_late_records_are_announced_as_rejected(
    tmp_path: Path,
) -> None:
    rows = [
        {"id": f"e{i}", "date": f"2019-{1 + i // 28:02d}-{1 + i % 28:02d}", "hs_code": "2710",
         "destination": "KP", "quantity": "30000", "unit": "bbl"}
        for i in range(84)
    ]  # fmt: skip
    late = {**rows[0], "id": "late"}  # 86 days behind the latest, with a lateness of 30
    feed, state, out = tmp_path / "feed.jsonl", tmp_path / "state.db", tmp_path / "out.jsonl"
    write_feed(feed, [*rows, late])
    args = [str(feed), "--state", str(state), "--output", str(out)]
    assert run([*args, "--lateness", "30"]).returncode == 0
    (refused,) = [a for a in lines_of(out) if a["change"] == "rejected"]
    assert refused["record"]["id"] == "late"
    assert "behind the monitor's horizon 2019-02-26" in refused["rejection"]["reasons"][0]
    expected = compliance.evaluate(rows, RULEBOOK, engine="stream", as_of=date.fromisoformat(AS_OF))
    assert net_findings(lines_of(out)) == findings_of(expected)
    # Another lateness would replay the state into other refusals: refused, and why.
    done = run([*args, "--lateness", "60"])
    assert done.returncode == 2 and "built with --lateness 30" in done.stderr
    # Left out, the state's own is used: the report is what was announced.
    report = json.loads(run(["--state", str(state), "--report", "--format", "json"]).stdout)
    assert report["findings"] == json.loads(expected.to_json())["findings"]
    assert report["accounting"]["rejected"] == 1
    assert run(args).returncode == 0
    assert "--lateness" in subprocess.run([*COMMAND[:4], "--help"], capture_output=True,
                                          text=True).stdout  # fmt: skip


_CELLS = {
    "id": ["a", "b", "c", "\ufeffa", ""],
    "date": ["2019-01-05", "2019-06-30", "2020-02-30", "2019-13-01", ""],
    "hs_code": ["2710", "2709", "27.10", "x"],
    "destination": ["KP", "CN", "kp"],
    "quantity": ["600000", "100", "1.5", "-3", "1\n00", "1\r00", ""],
    "unit": ["bbl", "t", "furlong"],
    "supersedes": ["", "a", "b"],
}


@st.composite
def hostile_logs(draw: st.DrawFn) -> tuple[str, bytes]:
    """A small log as a file holds it: CSV (fields quoted where they must be, with line
    ends inside quotes) or JSON Lines (some lines broken by a raw carriage return), each
    line ended by LF, CRLF or a lone CR, blank lines, a byte-order mark at the start or
    inside, the last line ended or not."""
    fmt = draw(st.sampled_from(["csv", "jsonl"]))
    ends = st.sampled_from(["\n", "\r\n", "\r"])
    rows = draw(st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _CELLS.items()}),
                         max_size=8))  # fmt: skip
    names = list(_CELLS)
    if fmt == "csv":
        texts = [",".join(names)]
        for row in rows:
            cells = [f'"{v}"' if any(c in v for c in "\r\n,") else v for v in row.values()]
            texts.append(",".join(cells))
    else:
        texts = []
        for row in rows:
            text = json.dumps({k: v for k, v in row.items() if v})
            if draw(st.integers(0, 9)) == 0:
                at = draw(st.integers(0, len(text)))
                text = text[:at] + "\r" + text[at:]  # not JSON: a line end to evaluate
            texts.append(text)
    for _ in range(draw(st.integers(0, 2))):
        texts.insert(draw(st.integers(min(1, len(texts)), len(texts))), "")  # blank lines
    body = "".join(t + draw(ends) for t in texts)
    if body and draw(st.booleans()):
        body = body.rstrip("\r\n")  # the last line unended
    if draw(st.booleans()):
        body = "\ufeff" + body
    return fmt, body.encode("utf-8")


@given(log=hostile_logs(), read_bytes=st.integers(1, 70))
def test_watch_reads_a_file_as_evaluate_reads_it(log: tuple[str, bytes], read_bytes: int) -> None:
    """Whatever its line ends (LF, CRLF, a lone CR as classic Mac files have, split across
    reads), byte-order mark and last line, a log watched gives the state `evaluate` gives
    of the same file: the same records, rejections with their lines, and findings."""
    fmt, data = log
    lone = data.replace(b"\r\n", b"").count(b"\r")
    event(f"{fmt}, {'lone CRs' if lone else 'no lone CR'}")  # --hypothesis-show-statistics
    as_of = date.fromisoformat(AS_OF)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(watching, "READ_BYTES", read_bytes)  # line ends split across reads
        feed, state = Path(tmp) / f"feed.{fmt}", Path(tmp) / "state.db"
        feed.write_bytes(data)
        try:
            expected = compliance.evaluate(feed, RULEBOOK, as_of=as_of)
        except compliance.LogError as e:  # a CSV whose header is not one
            with pytest.raises(compliance.ComplianceError) as raised:
                watch(str(feed), state, RULEBOOK, output=Path(tmp) / "out.jsonl", as_of=as_of)
            assert str(raised.value) == str(e)
            return
        watch(str(feed), state, RULEBOOK, output=Path(tmp) / "out.jsonl", as_of=as_of)
        got = report_from_state(state, RULEBOOK, as_of=as_of)
    assert got.accounting == expected.accounting
    assert [(r.line, r.reasons) for r in got.rejected] == [
        (r.line, r.reasons) for r in expected.rejected
    ]
    assert findings_of(got) == findings_of(expected)
