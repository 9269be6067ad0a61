"""The `compliance` command (DESIGN §5). Exit 0 clean, 1 findings, 2 bad input or rules."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from compliance import __version__
from compliance._collector import rare
from compliance.errors import ComplianceError, RuleFileError
from compliance.io._common import printable

__all__ = ["PIECE", "encoded", "main", "write_report"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compliance",
        description="Evaluate shipment logs against sanctions rules (default: the bundled "
        "UN DPRK rulebook).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("evaluate", help="evaluate logs against a rulebook")
    ev.add_argument(
        "logs", nargs="+", metavar="LOG", help="CSV, JSON Lines, JSON or Parquet; - for stdin"
    )
    ev.add_argument("--rules", action="append", help=_RULES_HELP)
    ev.add_argument(
        "--format",
        choices=_formats(),
        default=None,
        help="output format (default: table on a terminal, else json)",
    )
    ev.add_argument("--output", type=Path, help="write the report to FILE instead of stdout")
    ev.add_argument("--engine", choices=("auto", "stream", "columnar", "spark"), default="auto")
    ev.add_argument("--spark-master", help="Spark master for --engine spark (default: the "
                    "active session's, else local[*])")  # fmt: skip
    ev.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for --engine spark (repeatable)")  # fmt: skip
    ev.add_argument(
        "--as-of", type=_day, default=None, metavar="DATE",
        help="evaluation date: a report not yet due on it is pending, not unreported "
        "(default: the latest date in the logs)",
    )  # fmt: skip
    ev.add_argument(
        "--fail-on",
        choices=("breach", "warning"),
        default="breach",
        help="exit 1 on breaches (default) or on warnings too",
    )

    wa = sub.add_parser(
        "watch",
        help="evaluate a live feed, announcing findings as they change, with durable state",
        description="Read records as they arrive (JSON Lines or CSV) and write one JSON line "
        "per finding raised or withdrawn and per record rejected, each with a seq number. "
        "Every record and announcement is kept in --state (SQLite), so a restart resumes "
        "where it stopped: re-read records are not counted again and, with --output, no "
        "announcement is written twice. Stop with SIGTERM or Ctrl-C (after the current "
        "batch). See docs/monitoring.md.",
    )
    wa.add_argument("log", nargs="?", default=None, metavar="LOG", help="feed file, or - for stdin")
    wa.add_argument("--state", type=Path, required=True, help="SQLite state file (created if new)")
    wa.add_argument("--rules", type=Path, help="rulebook directory or file (default: bundled DPRK)")
    wa.add_argument(
        "--follow", action="store_true", help="keep reading as the file grows (like tail -F)"
    )
    wa.add_argument("--output", type=Path, help="append announcements to FILE (exactly once)")
    wa.add_argument(
        "--input-format", choices=("jsonl", "csv"), default=None,
        help="format of the feed (default: from its suffix; stdin: jsonl)",
    )  # fmt: skip
    wa.add_argument(
        "--report", action="store_true",
        help="print the report of everything the state holds, and exit",
    )  # fmt: skip
    wa.add_argument("--format", choices=_formats(), default=None, help="format of --report")
    wa.add_argument(
        "--as-of", type=_day, default=None, metavar="DATE",
        help="evaluation date of deadlines (default: today, each time it starts)",
    )  # fmt: skip
    wa.add_argument(
        "--lateness", type=_days, default=None, metavar="DAYS",
        help="allowed lateness: keep only what records dated up to DAYS before the latest "
        "date fed can change, so memory stops growing with the feed's history; a record "
        "dated before that horizon (or correcting one) is rejected, to be evaluated in a "
        "batch run (default: none, every late record is evaluated exactly and everything "
        "is kept). Kept in a new --state; a state is never resumed with another",
    )  # fmt: skip
    wa.add_argument(
        "--batch", type=int, default=1000, metavar="N",
        help="records per commit while the feed keeps coming (default 1000); a batch is "
        "also committed whenever the feed pauses",
    )  # fmt: skip

    rules = sub.add_parser("rules", help="list, validate or describe rule files")
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    ls = rsub.add_parser("list", help="list the rules of a rulebook")
    ls.add_argument("--rules", action="append", help=_RULES_HELP)
    ls.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    va = rsub.add_parser("validate", help="check rule files; every problem, one per line")
    va.add_argument("path", type=Path)
    rsub.add_parser("schema", help="print the JSON Schema of rule files")
    im = rsub.add_parser(
        "import-vessels",
        help="convert a copy of the 1718 Designated Vessels List (CSV) into a rulebook's "
        "designation CSV, with a diff against the current one",
    )
    im.add_argument("file", type=Path, metavar="FILE")
    im.add_argument("--output", type=Path, help="write the designation CSV here (default: stdout)")
    im.add_argument(
        "--current",
        type=Path,
        help="the list to compare with (default: --output if it exists, else the bundled one)",
    )

    te = sub.add_parser("test", help="run rule test cases and report rule coverage")
    te.add_argument("path", nargs="?", type=Path, help="rulebook directory (default: bundled)")
    te.add_argument(
        "--min-coverage",
        type=float,
        default=None,
        metavar="N",
        help="exit 1 when fewer than N%% of rules are exercised",
    )
    te.add_argument("--format", choices=("table", "json"), default="table")
    _convert_parser(sub)
    return p


_RULES_HELP = (
    "rulebook directory, file or bundled name (dprk, price-cap); repeat to evaluate "
    "several together (default: bundled dprk)"
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD (got {text!r})") from None


def _days(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"expected a whole number of days, 0 or more (got {text!r})"
        )
    return int(text)


def _formats() -> list[str]:
    from compliance.io.writers import FORMATS

    return list(FORMATS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `compliance` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "rules":
            return _rules(args)
        if args.command == "watch":
            return _watch(args)
        if args.command == "test":
            from compliance.ruletests import run_command

            return run_command(args.path, min_coverage=args.min_coverage, fmt=args.format)
        if args.command == "convert":
            return _convert(args)
    except RuleFileError as e:
        for d in e.diagnostics:
            print(printable(str(d)), file=sys.stderr)
        print(
            f"Found {len(e.diagnostics)} error{'s' * (len(e.diagnostics) != 1)}.", file=sys.stderr
        )
        return 2
    except ComplianceError as e:
        lines = (printable(line) for line in str(e).split("\n"))
        print("error: " + "\n".join(lines), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug of ours: one line for the user, the trace on request
        if os.environ.get("COMPLIANCE_DEBUG"):
            raise
        print(
            f"internal error: {type(e).__name__}: {e} (set COMPLIANCE_DEBUG=1 for the "
            "traceback, and please report it)",
            file=sys.stderr,
        )
        return 2
    return 2


def _evaluate(args: argparse.Namespace) -> int:
    from compliance.api import evaluate
    from compliance.io.writers import pieces, prepare
    from compliance.rulebook.load import load_rulebook

    fmt = args.format or ("table" if sys.stdout.isatty() and not args.output else "json")
    if args.output:
        _refuse_input_as_output(args.output, args.logs)
    rulebook = load_rulebook(*(args.rules or ()))
    prepare(fmt)
    if args.engine == "spark":
        _start_spark(args.spark_master, args.spark_conf)
    with rare():
        report = evaluate(args.logs, rulebook, engine=args.engine, as_of=args.as_of)
        text = pieces(report, rulebook, fmt)  # made as they are written
        if args.output:
            write_report(args.output, text)
        else:
            _stdout(text)
    for r in report.rejected:
        line = f"{r.location()}: rejected: {'; '.join(r.reasons)}"
        print(printable(line), file=sys.stderr)
    if report.incomplete:
        print(
            f"incomplete: {report.accounting.rejected} rejected records, "
            f"{len(report.errors)} unconvertible events",
            file=sys.stderr,
        )
    return report.exit_code(args.fail_on)


def _start_spark(master: str | None, settings: list[str]) -> None:
    """The session --engine spark runs on (evaluate() then finds it active)."""
    from compliance.engine.spark import spark_session

    conf = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key.strip():
            raise ComplianceError(f"--spark-conf {setting!r}: expected KEY=VALUE")
        conf[key.strip()] = value
    spark_session(master, conf)


def _watch(args: argparse.Namespace) -> int:
    from compliance.io.writers import pieces
    from compliance.rulebook.load import load_rulebook
    from compliance.watch import report_from_state, watch

    rulebook = load_rulebook(args.rules) if args.rules else load_rulebook()
    if args.report:
        report = report_from_state(args.state, rulebook, as_of=args.as_of)
        fmt = args.format or ("table" if sys.stdout.isatty() else "json")
        _stdout(pieces(report, rulebook, fmt))
        return report.exit_code()
    if args.log is None:
        raise ComplianceError("watch needs a feed (a file, or - for stdin), or --report")
    with rare():
        return watch(
            args.log,
            args.state,
            rulebook,
            follow=args.follow,
            output=args.output,
            fmt=args.input_format,
            batch_size=max(1, args.batch),
            as_of=args.as_of,
            lateness=args.lateness,
        )


PIECE = 1 << 20  # characters encoded at a time: the text is never copied whole to bytes


def encoded(pieces: str | Iterable[str], piece: int = PIECE) -> Iterator[bytes]:
    """The text of `pieces` (a string, or strings to be joined) as UTF-8, about `piece`
    characters at a time, valid whatever a log held: anything unencodable (a lone
    surrogate) is written as an escape. The bytes joined are
    `"".join(pieces).encode("utf-8", "backslashreplace")`; a report of a gigabyte is
    never held whole, as text or as bytes."""
    held: list[str] = []
    size = 0
    for text in (pieces,) if isinstance(pieces, str) else pieces:
        if not text:
            continue
        if len(text) < piece:
            held.append(text)
            size += len(text)
            if size < piece:
                continue
            text = "".join(held)
        elif held:
            yield "".join(held).encode("utf-8", "backslashreplace")
        held, size = [], 0
        for start in range(0, len(text), piece):
            yield text[start : start + piece].encode("utf-8", "backslashreplace")
    if held:
        yield "".join(held).encode("utf-8", "backslashreplace")


def _stdout(pieces: str | Iterable[str]) -> None:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (tests, embedding): it takes str
        for data in encoded(pieces):
            sys.stdout.write(data.decode("utf-8"))
        return
    for data in encoded(pieces):
        buffer.write(data)
    buffer.flush()


def _refuse_input_as_output(output: Path, logs: Sequence[str]) -> None:
    for log in logs:
        if log == "-":
            continue
        try:
            same = os.path.samefile(output, log)
        except OSError:  # one of them does not exist (yet): they cannot be the same
            continue
        if same:
            raise ComplianceError(
                f"--output {printable(str(output))} is the input log {printable(log)}; "
                "refusing to overwrite it"
            )


def write_report(target: Path, text: str | Iterable[str]) -> None:
    """Write `text` (a string or its pieces, `encoded`) to `target` whole or not at all;
    ComplianceError naming the file and the reason.

    A regular file (or a new one) is written to a temporary file beside it, then
    renamed over it: a full disk, a file-size limit or an interruption leaves the old
    file (or none), never a truncated report. A device or FIFO (`/dev/stdout`) is
    written in place, as renaming over it would replace it.
    """
    shown = printable(str(target))
    try:
        try:
            mode: int | None = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory")
        if mode is not None and not stat.S_ISREG(mode):
            with open(target, "wb") as handle:
                handle.writelines(encoded(text))
            return
        if mode is not None and (not os.access(target, os.W_OK) or not mode & 0o222):
            raise PermissionError(13, "Permission denied (a read-only file)")
        final = Path(os.path.realpath(target))  # through a symlink, not over it
        temp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        perms = stat.S_IMODE(mode) if mode is not None else 0o666
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, perms)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.writelines(encoded(text))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise ComplianceError(f"cannot write {shown}: {e.strerror or e}") from None


def _rules(args: argparse.Namespace) -> int:
    from compliance.rulebook import listing
    from compliance.rulebook.load import load_rulebook

    if args.rules_command == "schema":
        from compliance.rulebook.schema import RuleFile

        print(json.dumps(RuleFile.model_json_schema(by_alias=True), indent=2))
        return 0
    if args.rules_command == "import-vessels":
        return _import_vessels(args)
    if args.rules_command == "validate":
        rulebook = load_rulebook(args.path)
        print(f"{args.path}: {len(rulebook)} rules, no problems.")
        return 0
    rulebook = load_rulebook(*(args.rules or ()))
    if args.format == "json":
        sys.stdout.write(listing.list_json(rulebook))
    elif args.format == "markdown":
        sys.stdout.write(listing.list_markdown(rulebook))
    else:
        sys.stdout.write(listing.list_table(rulebook))
    return 0


# --- compliance convert: vessel-tracking exports to events (docs/tracking.md) ---


def _convert_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from compliance.io.tracking import SOURCES

    co = sub.add_parser(
        "convert",
        help="convert a vessel-tracking export (GFW encounters, port visits) to events",
    )
    co.add_argument("file", metavar="FILE", help="CSV, JSON Lines or JSON export; - for stdin")
    co.add_argument(
        "--from",
        dest="kind",
        choices=SOURCES,
        default=None,
        help="the kind of export (default: told from its columns)",
    )
    co.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    co.add_argument("--output", type=Path, help="write the events to FILE instead of stdout")
    co.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="read FIELD from COLUMN (repeatable); extra.NAME=COLUMN keeps any column",
    )
    co.add_argument(
        "--both-directions",
        action="store_true",
        help="emit each encounter twice, each vessel once as the giver",
    )
    co.add_argument(
        "--vessels",
        type=Path,
        metavar="FILE",
        help="vessel list (ssvid or mmsi, and imo columns) to fill IMO numbers from MMSIs",
    )


def _convert(args: argparse.Namespace) -> int:
    from compliance.io.tracking import Note, convert_tracking, read_vessels

    if args.output:
        _refuse_input_as_output(args.output, [str(args.file)])
    columns: dict[str, str] = {}
    for item in args.column:
        name, sep, column = item.partition("=")
        if not sep:
            print(f"error: --column {item}: expected FIELD=COLUMN", file=sys.stderr)
            return 2
        columns[name.strip()] = column.strip()
    vessels: dict[str, str] = {}
    notes: list[Note] = []
    if args.vessels:
        vessels, notes = read_vessels(args.vessels)
    try:
        conversion = convert_tracking(
            args.file,
            args.kind,
            columns=columns,
            both_directions=args.both_directions,
            vessels=vessels,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = conversion.to_jsonl() if args.format == "jsonl" else conversion.to_csv()
    if args.output:
        write_report(args.output, text)
    else:
        _stdout(text)
    for note in notes + conversion.warnings:
        print(f"{note.location()}: warning: {note.message}", file=sys.stderr)
    for note in conversion.unmapped:
        print(f"{note.location()}: unmapped: {note.message}", file=sys.stderr)
    print(conversion.summary(), file=sys.stderr)
    return conversion.exit_code


def _import_vessels(args: argparse.Namespace) -> int:
    from compliance.rulebook.load import bundled_rulebook_path
    from compliance.rulebook.vessels import (
        diff_entries,
        entries_from_csv,
        entries_to_csv,
        format_diff,
        import_committee_list,
    )

    entries = import_committee_list(args.file)
    current_path = args.current or (
        args.output
        if args.output and args.output.is_file()
        else bundled_rulebook_path() / "designated-vessels.csv"
    )
    current: list[Any] = []
    if current_path.is_file():
        current, problems = entries_from_csv(
            current_path.read_text(encoding="utf-8"), str(current_path)
        )
        if problems:
            raise RuleFileError(problems)
    text = entries_to_csv(entries)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    print(f"against {current_path}:", file=sys.stderr)
    print(format_diff(diff_entries(current, entries)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
