"""Hostile input (issue 11): no evasion by spelling, no crash, no lost report.

Each group of the issue has tests here, on both engines and, where it applies, through
the command line. The random-input property is in test_hostile_random.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import compliance
from compliance import Engine
from compliance.cli import main
from compliance.errors import LogError, RuleFileError
from compliance.events import DATES, MAX_FIELDS, normalise_code, parse_shipment
from compliance.io.csv_writer import neutralise

DATA = Path(__file__).parent / "data"
RULES = DATA / "design-example.yaml"
HEADER = "id,date,hs_code,product,destination,quantity,unit,vessel_imo\n"


def _durable() -> bool:
    try:
        import durable.engine  # noqa: F401
    except Exception:  # Python 3.13 cannot import it
        return False
    return True


STREAM = pytest.param(
    "stream", marks=pytest.mark.skipif(not _durable(), reason="durable_rules is not importable")
)
ENGINES = [STREAM, "columnar"]


@pytest.fixture(scope="module")
def design() -> compliance.Rulebook:
    return compliance.load_rulebook(RULES)


@pytest.fixture(scope="module")
def dprk() -> compliance.Rulebook:
    return compliance.load_rulebook()


def write(tmp_path: Path, body: str | bytes, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def reasons(report: compliance.Report) -> list[str]:
    return [reason for r in report.rejected for reason in r.reasons]


def sums(report: compliance.Report) -> bool:
    a = report.accounting
    return a.read == a.evaluated + a.duplicates + a.superseded + a.rejected


# Evasion by spelling ------------------------------------------------------------------

# (field, hostile value, the ASCII value it imitates). Each ASCII row makes a finding.
SPELLINGS = [
    ("hs_code", "２７１０１９", "271019"),  # full-width digits
    ("hs_code", "٢٧١٠١٩", "271019"),  # Arabic-Indic digits
    ("hs_code", "२७१०१९", "271019"),  # Devanagari digits
    ("destination", "kı", "kp"),  # dotless i: upper() makes it KI, a real code
    ("destination", "ＫＰ", "KP"),  # full-width letters
    ("destination", "КР", "KP"),  # Cyrillic look-alikes
    ("quantity", "６００000", "600000"),
    ("quantity", "٦٠٠٠٠٠", "600000"),
    ("date", "２０１９-06-10", "2019-06-10"),
]


def _row(field: str, value: str) -> str:
    values = {"id": "a", "date": "2019-06-10", "hs_code": "271019", "product": "diesel",
              "destination": "KP", "quantity": "600000", "unit": "bbl", "vessel_imo": ""}  # fmt: skip
    values[field] = value
    return ",".join(values[c] for c in HEADER.strip().split(",")) + "\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_lone_surrogate_under_a_key_that_is_not_text_is_rejected_with_its_key(
    design: compliance.Rulebook, engine: Engine
) -> None:
    # A DataFrame's columns may be named by numbers; an undecodable value under one is a
    # rejection naming the column, as under a named one, not a TypeError.
    records = [
        {"id": "a", "date": "2019-01-01", 7: "x\udcff"},
        {"id": "b", "date": "2019-01-01", "note": "x\udcff"},
    ]
    report = compliance.evaluate(records, design, engine=engine)
    assert report.accounting.rejected == 2
    assert reasons(report) == [
        "7: is not valid UTF-8 (got 'x\\\\xff')",
        "note: is not valid UTF-8 (got 'x\\\\xff')",
    ]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("field", "hostile", "ascii"), SPELLINGS)
def test_non_ascii_code_is_rejected_never_accepted_unmatched(
    tmp_path: Path,
    design: compliance.Rulebook,
    engine: Engine,
    field: str,
    hostile: str,
    ascii: str,
) -> None:
    control = compliance.evaluate(str(write(tmp_path, HEADER + _row(field, ascii))), design,
                                  engine=engine)  # fmt: skip
    assert control.breaches and not control.rejected
    report = compliance.evaluate(str(write(tmp_path, HEADER + _row(field, hostile))), design,
                                 engine=engine)  # fmt: skip
    assert report.accounting.rejected == 1 and report.exit_code() == 2
    assert reasons(report)[0].startswith(f"{field}: contains U+")
    assert "ASCII" in reasons(report)[0]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("imo", ["９１９１７７３", "٩١٩١٧٧٣"])
def test_designated_vessel_in_other_digits_is_rejected(
    tmp_path: Path, dprk: compliance.Rulebook, engine: Engine, imo: str
) -> None:
    def run(value: str) -> compliance.Report:
        body = f"id,date,vessel_imo,transfer\nv,2019-06-10,{value},port\n"
        return compliance.evaluate(str(write(tmp_path, body)), dprk, engine=engine)

    assert run("9191773").findings  # BILLIONS NO. 18
    report = run(imo)
    assert report.accounting.rejected == 1 and "vessel_imo: contains U+" in reasons(report)[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_product_with_a_cyrillic_letter_is_rejected(
    tmp_path: Path, dprk: compliance.Rulebook, engine: Engine
) -> None:
    body = "id,date,product,destination,quantity,unit\na,2019-06-10,dіesel,KP,600000,bbl\n"
    report = compliance.evaluate(str(write(tmp_path, body)), dprk, engine=engine)
    assert reasons(report) == [
        "product: contains U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I; codes, dates "
        "and amounts are written in ASCII only (got 'dіesel')"
    ]


def test_cli_exits_2_on_a_full_width_hs_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, HEADER + _row("hs_code", "２７１０１９"))
    assert main(["evaluate", str(path), "--rules", str(RULES), "--format", "json"]) == 2
    assert "log.csv:2: rejected: hs_code: contains U+FF12 FULLWIDTH DIGIT TWO" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("destination: ＫＰ", "'destination' takes an ISO 3166-1 alpha-2 code"),
        ("destination: kı", "'destination' takes an ISO 3166-1 alpha-2 code"),
        ("hs_code: {prefix: ['２７１０']}", "a 'hs_code' prefix is 1–10 digits"),
        ("product: dіesel", "'product' takes a product name in ASCII"),
    ],
)
def test_rule_selectors_refuse_what_events_refuse(
    tmp_path: Path, selector: str, message: str
) -> None:
    rule = f"rules:\n  - id: r\n    kind: prohibition\n    citation: c\n    match: {{{selector}}}\n"
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(write(tmp_path, rule, "r.yaml"))
    assert message in str(e.value)


@pytest.mark.parametrize(
    "field", ["destination", "currency", "unit", "transfer", "hs_code", "product", "source"]
)
@pytest.mark.parametrize("text", ["kp", "KP", " usd ", "BBL", "2710.19", "dіesel", "kı", "Ｋp"])
def test_one_normalisation_for_events_and_rules(field: str, text: str) -> None:
    code = normalise_code(field, text)
    assert code is None or code.isascii()
    event = parse_shipment({"id": "a", "date": "2019-06-10", field: text, **_pair(field)})
    stored = None if isinstance(event, list) else event.get(field)
    assert stored == code


def _pair(field: str) -> dict[str, str]:
    return {"unit": {"quantity": "1"}, "currency": {"value": "1"}}.get(field, {})


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "column", ["Destination", "ｄｅｓｔｉｎａｔｉｏｎ", "dеstination", "DESTINATION"]
)
def test_a_column_imitating_a_field_is_refused(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine, column: str
) -> None:
    header = HEADER.replace("destination", column)
    path = write(tmp_path, header + _row("id", "a"))
    with pytest.raises(LogError) as e:
        compliance.evaluate(str(path), design, engine=engine)
    assert f"column {column!r} imitates the field 'destination'" in str(e.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_key_imitating_a_field_rejects_the_record(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine
) -> None:
    body = (
        '{"id":"a","date":"2019-06-10","hs_code":"2710","dеstination":"KP",'
        '"quantity":"600000","unit":"bbl","备注":"x"}\n'
    )
    report = compliance.evaluate(str(write(tmp_path, body, "log.jsonl")), design, engine=engine)
    assert reasons(report) == [
        "dеstination: imitates the field 'destination'; field names are written as 'destination'"
    ]
    import polars as pl

    frame = pl.DataFrame({"id": ["a"], "date": ["2019-06-10"], "Destination": ["KP"]})
    report = compliance.evaluate(frame, design, engine=engine)
    assert reasons(report)[0].startswith("Destination: imitates the field 'destination'")


# Decimal commas ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("quantity", ["450000,5", "4,99,99,9", "1,5", ",500", "1,0000", "4_99_999"])
def test_ambiguous_commas_are_rejected_with_the_reason(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine, quantity: str
) -> None:
    report = compliance.evaluate(
        str(write(tmp_path, HEADER + _row("quantity", f'"{quantity}"'))), design, engine=engine
    )
    assert report.accounting.rejected == 1
    assert reasons(report)[0].startswith("quantity: ")
    assert "comma" in reasons(report)[0] or "underscores" in reasons(report)[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_thousands_separators_in_groups_of_three_are_read(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine
) -> None:
    body = HEADER + _row("quantity", '"450,000.5"').replace("a,", "a,", 1)
    report = compliance.evaluate(str(write(tmp_path, body)), design, engine=engine)
    assert not report.rejected and report.accounting.evaluated == 1
    assert not report.breaches  # 450,000.5 bbl, under the 500,000 cap


# Duplicate JSON keys, short CSV rows ---------------------------------------------------

DUPLICATED = (
    '{"id":"a","date":"2019-06-10","hs_code":"2710","destination":"KP",'
    '"quantity":600000,"quantity":1,"unit":"bbl"}'
)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("name", "body", "where"),
    [
        ("log.jsonl", '{"id":"b","date":"2019-06-10"}\n' + DUPLICATED + "\n", "log.jsonl:2"),
        ("log.json", f'[{{"id":"b","date":"2019-06-10"}}, {DUPLICATED}]', "log.json[1]"),
    ],
)
def test_duplicate_json_keys_reject_the_record(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine, name: str, body: str, where: str
) -> None:
    report = compliance.evaluate(str(write(tmp_path, body, name)), design, engine=engine)
    assert [r.location().rsplit("/", 1)[1] for r in report.rejected] == [where]
    assert reasons(report) == ["duplicate key 'quantity' in the JSON object"]
    assert report.accounting.evaluated == 1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_short_csv_rows_are_rejected_with_their_line(
    tmp_path: Path,
    design: compliance.Rulebook,
    engine: Engine,
    chunk: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from compliance.engine.columnar import csv_chunks

    monkeypatch.setattr(csv_chunks, "CHUNK_BYTES", chunk)
    rows = [_row("id", f"r{i}") for i in range(20)]
    rows[5] = "r5,2019-06-10,2710,diesel,KP,600000,bbl\n"  # one field short
    rows[12] = 'r12,2019-06-10,"2710",diesel,KP,"600,000",bbl\n'  # quoted, one short
    report = compliance.evaluate(str(write(tmp_path, HEADER + "".join(rows))), design,
                                 engine=engine)  # fmt: skip
    assert [(r.line, r.reasons) for r in report.rejected] == [
        (7, ["row has 7 fields; the header has 8"]),
        (14, ["row has 7 fields; the header has 8"]),
    ]
    assert report.accounting.evaluated == 18


# Bytes that are not UTF-8 -------------------------------------------------------------

FORMATS = ["json", "table", "csv", "markdown"]


@pytest.mark.parametrize("engine", ["stream", "columnar"])
@pytest.mark.parametrize(
    "body",
    [
        HEADER.encode() + b"a\xff,2019-06-10,2710,diesel,KP,600000,bbl,\n",  # in an id
        HEADER.encode() + _row("id", "ok").encode() + b"\xfe\xff\x00garbage",  # trailing
        b'{"id":"a\xc3","date":"2019-06-10"}\n{"id":"\\ud800","date":"2019-06-10"}\n',
    ],
)
def test_undecodable_bytes_reject_the_row_and_every_format_stays_utf8(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], engine: Engine, body: bytes
) -> None:
    if engine == "stream" and not _durable():
        pytest.skip("durable_rules is not importable")
    name = "log.jsonl" if body.startswith(b"{") else "log.csv"
    path = write(tmp_path, body, name)
    for fmt in FORMATS:
        code = main(["evaluate", str(path), "--rules", str(RULES), "--format", fmt,
                     "--engine", engine])  # fmt: skip
        out, err = capsysbinary.readouterr()
        assert code == 2
        out.decode("utf-8")  # strictly valid
        assert b"rejected: " in err and b"is not valid UTF-8" in err
        if fmt == "json":
            doc = json.loads(out)
            assert doc["accounting"]["rejected"] >= 1
            assert all(r["line"] for r in doc["rejected"])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_file_name_that_is_not_utf8_is_shown_escaped(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], engine: Engine
) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.csv"
    with open(raw, "wb") as handle:
        handle.write(HEADER.encode() + b"a,2019-13-01,,,,,,\n")
    name = os.fsdecode(raw)  # as sys.argv gives it: with a surrogate
    code = main(["evaluate", name, "--rules", str(RULES), "--format", "json", "--engine", engine])
    out, err = capsysbinary.readouterr()
    assert code == 2
    doc = json.loads(out.decode("utf-8"))
    assert doc["rejected"][0]["source"].endswith("caf\\xe9.csv")
    assert b"caf\\xe9.csv:2: rejected" in err


def test_stdin_with_undecodable_bytes(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    data = HEADER.encode() + b"a\x80,2019-06-10,2710,diesel,KP,1,bbl,\n"
    stdin = io.TextIOWrapper(io.BytesIO(data))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["evaluate", "-", "--rules", str(RULES), "--format", "json"]) == 2
    out, _ = capsysbinary.readouterr()
    doc = json.loads(out.decode("utf-8"))
    assert doc["rejected"][0]["id"] == "a\\x80"


# Dates at the edge ---------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
def test_dates_outside_the_range_are_rejected_with_the_reason(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine, day: str
) -> None:
    body = HEADER + f"a,{day},2709,crude,KP,5000000,bbl,\n"
    report = compliance.evaluate(str(write(tmp_path, body)), design, engine=engine)
    assert reasons(report) == [f"date: must be between 1900-01-01 and 2999-12-31 (got '{day}')"]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_date_in_the_range_evaluates(
    tmp_path: Path, dprk: compliance.Rulebook, engine: Engine
) -> None:
    rows = "".join(
        f"{hs}-{day},{day},{hs},KP,5000000,bbl,{day}\n"
        for day in (DATES[0].isoformat(), DATES[1].isoformat())
        for hs in ("2709", "2710")
    )
    body = "id,date,hs_code,destination,quantity,unit,reported_on\n" + rows
    report = compliance.evaluate(str(write(tmp_path, body)), dprk, engine=engine)
    assert not report.rejected and report.breaches and sums(report)


# Integers past Python's conversion limit -----------------------------------------------

HUGE = "1" + "0" * 5000


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("log.jsonl", f'{{"id":{HUGE},"date":"2019-06-10"}}\n', "id: is longer than 4096"),
        (
            "log.json",
            f'[{{"id":"q","date":"2019-06-10","quantity":{HUGE},"unit":"bbl"}}]',
            "quantity: is implausibly large",
        ),
    ],
)
def test_huge_json_integers_reject_one_record(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine, name: str, body: str, reason: str
) -> None:
    if name == "log.jsonl":
        body += '{"id":"b","date":"2019-06-10"}\n'
    else:
        body = body[:-1] + ', {"id":"b","date":"2019-06-10"}]'
    report = compliance.evaluate(str(write(tmp_path, body, name)), design, engine=engine)
    assert report.accounting.rejected == 1 and report.accounting.evaluated == 1
    assert reasons(report)[0].startswith(reason)


@pytest.mark.parametrize("engine", ENGINES)
def test_huge_integers_given_to_evaluate(design: compliance.Rulebook, engine: Engine) -> None:
    records = [{"id": 10**5000, "date": "2019-06-10"}, {"id": "b", "date": "2019-06-10"}]
    report = compliance.evaluate(records, design, engine=engine)
    assert report.accounting.rejected == 1 and sums(report)


def test_huge_integer_in_a_rule_file_is_one_located_error(tmp_path: Path) -> None:
    text = RULES.read_text().replace("amount: 500000", f"amount: {HUGE}")
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(write(tmp_path, text, "r.yaml"))
    [d] = e.value.diagnostics
    assert (d.line, d.column) == (17, 18)
    assert d.message.startswith("number out of range: at most 100 digits")


def test_a_character_yaml_does_not_allow_is_a_located_error(tmp_path: Path) -> None:
    # Found by fuzz/fuzz_rules.py: PyYAML's ReaderError escaped as an internal error.
    text = RULES.read_text().replace("title: Refined", "title: Re\x00fined")
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(write(tmp_path, text, "r.yaml"))
    [d] = e.value.diagnostics
    assert (d.line, d.column, d.message) == (
        8,
        14,
        "invalid YAML: character U+0000 is not allowed",
    )


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("!source", "!source"),
        ("!!python/name:os.system", "tag:yaml.org,2002:python/name:os.system"),
    ],
    ids=["local", "python"],
)
def test_a_tag_on_a_mapping_key_is_a_located_error(tmp_path: Path, key: str, tag: str) -> None:
    # Found by fuzz/fuzz_rules.py: a key's tag reached PyYAML's constructor unchecked
    # (values' tags were refused), and its ConstructorError escaped as an internal error.
    text = RULES.read_text().replace(
        "destination: KP, source: notification", f"destination: KP, {key} source: notification"
    )
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(write(tmp_path, text, "r.yaml"))
    [d] = e.value.diagnostics
    column = text.splitlines()[38].index(key) + 1  # the key's node starts at its tag
    assert (d.line, d.column, d.message) == (
        39, column, f"YAML tag {tag!r} is not allowed in rule files"
    )  # fmt: skip


# Deep nesting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["rules: " + "[" * 100_000, "".join(" " * i + f"k{i}:\n" for i in range(3000))],
    ids=["flow", "block"],
)
def test_deep_yaml_is_one_located_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(write(tmp_path, text, "deep.yaml"))
    [d] = e.value.diagnostics
    assert d.message == "nested more than 64 levels deep" and d.line is not None


def _deep(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("engine", ENGINES)
def test_deep_values_given_to_evaluate_are_rejected(
    design: compliance.Rulebook, engine: Engine
) -> None:
    records = [
        {"id": "a", "date": "2019-06-10", "note": _deep(100_000)},
        {"id": "b", "date": "2019-06-10", "product": _deep(100_000)},
        {"id": "c", "date": "2019-06-10", "note": _deep(5)},
    ]
    report = compliance.evaluate(records, design, engine=engine)
    assert reasons(report) == [
        "note: is nested more than 32 levels deep",
        "product: must be one value (got a list)",
    ]
    assert report.accounting.evaluated == 1


@pytest.mark.skipif(not _durable(), reason="durable_rules is not importable")
def test_deep_values_given_to_monitor_feed(design: compliance.Rulebook) -> None:
    monitor = compliance.Monitor(design)
    try:
        assert monitor.feed({"id": "a", "date": "2019-06-10", "note": _deep(100_000)}) == []
        assert reasons(monitor.report()) == ["note: is nested more than 32 levels deep"]
    finally:
        monitor.close()


# Special files in a rulebook -----------------------------------------------------------


def _rulebook(tmp_path: Path) -> Path:
    book = tmp_path / "rules"
    book.mkdir()
    (book / "a.yaml").write_text(RULES.read_text())
    return book


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "zero.yaml").symlink_to("/dev/zero"), "links outside the rulebook"),
        (lambda d: (d / "x.yaml").symlink_to("/etc/passwd"), "links outside the rulebook"),
        (lambda d: os.mkfifo(d / "pipe.yaml"), "not a regular file"),
        (lambda d: (d / "p.yaml").symlink_to(d / "sub" / "pipe"), "not a regular file"),
    ],
    ids=["dev-zero", "passwd", "fifo", "fifo-inside"],
)
def test_only_regular_files_inside_the_rulebook_are_read(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    book = _rulebook(tmp_path)
    (book / "sub").mkdir()
    os.mkfifo(book / "sub" / "pipe")
    make(book)
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(book)
    [d] = e.value.diagnostics
    assert message in d.message


def test_a_symlink_to_a_valid_rule_file_elsewhere_is_refused(tmp_path: Path) -> None:
    book = _rulebook(tmp_path)
    other = tmp_path / "elsewhere.yaml"
    other.write_text(RULES.read_text().replace("id: unscr-", "id: other-"))
    (book / "b.yaml").symlink_to(other)
    with pytest.raises(RuleFileError, match="links outside the rulebook"):
        compliance.load_rulebook(book)


def test_rules_validate_does_not_hang_on_a_fifo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _rulebook(tmp_path)
    os.mkfifo(book / "pipe.yaml")
    assert main(["rules", "validate", str(book)]) == 2
    assert "pipe.yaml: not a regular file" in capsys.readouterr().err


def test_designation_csv_that_is_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    book = tmp_path / "rules"
    book.mkdir()
    (book / "d.yaml").write_text(
        "rules:\n  - id: d\n    kind: designation\n    citation: c\n"
        "    fields: [vessel_imo]\n    designations: {file: list.csv}\n"
    )
    (book / "list.csv").write_bytes(b"identifier,name,designated\n9191773,B\xffX,2017-12-28\n")
    with pytest.raises(RuleFileError) as e:
        compliance.load_rulebook(book)
    assert [str(d) for d in e.value.diagnostics] == [
        f"{book / 'list.csv'}:2:10: not valid UTF-8: byte 0xff"
    ]


# Wide headers --------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_million_columns_is_one_clear_error(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine
) -> None:
    header = "id,date," + ",".join(f"c{i}" for i in range(1_000_000)) + "\n"
    path = write(tmp_path, header + "a,2019-06-10\n")
    with pytest.raises(LogError) as e:
        compliance.evaluate(str(path), design, engine=engine)
    assert str(e.value) == (
        f"{path}:1: the header has 1000002 columns; at most {MAX_FIELDS} are read"
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_columns_among_many_are_found(
    tmp_path: Path, design: compliance.Rulebook, engine: Engine
) -> None:
    header = "id,date," + ",".join(f"c{i % 400}" for i in range(800)) + "\n"
    with pytest.raises(LogError, match="duplicate column 'c0', 'c1', 'c10'"):
        compliance.evaluate(str(write(tmp_path, header + "a,2019-06-10\n")), design,
                            engine=engine)  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_a_record_with_too_many_fields_is_rejected(
    design: compliance.Rulebook, engine: Engine
) -> None:
    wide = {"id": "a", "date": "2019-06-10", **{f"c{i}": "x" for i in range(MAX_FIELDS)}}
    report = compliance.evaluate([wide], design, engine=engine)
    assert reasons(report) == [f"record: has {MAX_FIELDS + 2} fields; at most 1000 are read"]


# --output ------------------------------------------------------------------------------


def _evaluate(tmp_path: Path, output: str, fmt: str = "json") -> list[str]:
    log = write(tmp_path, HEADER + _row("id", "a"))
    return ["evaluate", str(log), "--rules", str(RULES), "--format", fmt, "--output", output]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (lambda d: str(d / "missing" / "r.json"), "No such file or directory"),
        (lambda d: str(d), "Is a directory"),
        (lambda d: "/dev/full", "No space left on device"),
    ],
    ids=["missing-directory", "directory", "dev-full"],
)
def test_output_failure_is_one_line_naming_file_and_reason(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: Callable[[Path], str],
    reason: str,
) -> None:
    output = target(tmp_path)
    if output == "/dev/full" and not Path(output).exists():
        pytest.skip("no /dev/full here")
    assert main(_evaluate(tmp_path, output)) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot write {output}: {reason}\n"


def test_a_read_only_output_file_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "r.json"
    output.write_text("old")
    output.chmod(stat.S_IRUSR)
    assert main(_evaluate(tmp_path, str(output))) == 2
    assert f"cannot write {output}: Permission denied" in capsys.readouterr().err
    assert output.read_text() == "old"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "r.json"
    output.write_text("old")

    def fail(*args: object) -> None:
        raise OSError(27, "File too large")

    monkeypatch.setattr(os, "fsync", fail)
    assert main(_evaluate(tmp_path, str(output))) == 2
    assert capsys.readouterr().err == (f"error: cannot write {output}: File too large\n")
    assert output.read_text() == "old" and sorted(tmp_path.iterdir()) == sorted(
        [output, tmp_path / "log.csv"]
    )


def test_a_file_size_limit_leaves_no_partial_report(tmp_path: Path) -> None:
    output = tmp_path / "r.html"
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))\n"
        "from compliance.cli import main\n"
        f"sys.exit(main({_evaluate(tmp_path, str(output), 'markdown')!r}))\n"
    )
    src = str(Path(compliance.__file__).parents[1])  # this checkout, whatever else is installed
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: cannot write {output}: File too large\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_output_replaces_a_file_whole_and_keeps_its_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "r.json"
    output.write_text("old")
    output.chmod(0o640)
    assert main(_evaluate(tmp_path, str(output))) == 1
    assert json.loads(output.read_text())["accounting"]["read"] == 1
    assert stat.S_IMODE(output.stat().st_mode) == 0o640


def test_output_naming_an_input_log_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _evaluate(tmp_path, "unused")
    log = Path(argv[1])
    before = log.read_bytes()
    argv[-1] = str(tmp_path / "." / "log.csv")
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: --output {argv[-1]} is the input log {log}; refusing to overwrite it\n"
    )
    assert log.read_bytes() == before


# Output safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ident", ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"]
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ident: str
) -> None:
    quoted = '"' + ident.replace('"', '""') + '"'
    log = write(tmp_path, HEADER + _row("id", quoted))
    main(["evaluate", str(log), "--rules", str(RULES), "--format", "csv"])
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
    assert rows and all(r["trigger"] == "'" + ident for r in rows)
    assert all(not r[c].startswith(("=", "+", "@", "\t", "\r")) for r in rows for c in r)


def test_numbers_are_not_neutralised() -> None:
    cells = ("-5", "-0.25", "12", "-x", "\tx", "\rx", "a=b")
    assert [neutralise(c) for c in cells] == ["-5", "-0.25", "12", "'-x", "'\tx", "'\rx", "a=b"]


def test_table_shows_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path, HEADER + _row("id", "\x1b[2J\x1b[31mevil\u202e"))
    main(["evaluate", str(log), "--rules", str(RULES), "--format", "table"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[31mevil\\u202e" in out


def test_stderr_lines_show_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path, "\x1b[31mid,date\na,2019-06-10\n")
    assert main(["evaluate", str(log), "--rules", str(RULES)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "(got columns: \\x1b[31mid, date)" in err


@pytest.mark.parametrize("engine", ["stream", "columnar"])
def test_a_line_end_inside_a_header_cell_stays_on_the_error_line(
    tmp_path: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the `thorough` profile (`"\\x00\\n\\x00` on standard input): a quoted
    header cell holding a line end printed the missing-column error on two lines, the
    second unlocated; and the columnar engine read the header's first line alone, so
    the two engines named other columns."""
    log = write(tmp_path, '"\x00\n\x00,\x1b"\nx,y\n')
    with pytest.raises(LogError) as raised:
        compliance.evaluate(log, RULES, engine=engine)
    assert "\n" not in str(raised.value) and "\x00" not in str(raised.value)
    assert main(["evaluate", str(log), "--rules", str(RULES), "--engine", engine]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {log}:1: missing required column 'id', 'date' "
                   "(got columns: \\x00\\n\\x00,\\x1b)"]  # fmt: skip


def test_convert_output_is_written_whole_and_never_over_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes((DATA / "tracking" / "portal-encounters.csv").read_bytes())
    before = export.read_bytes()
    assert main(["convert", str(export), "--output", str(export)]) == 2
    assert "is the input log" in capsys.readouterr().err and export.read_bytes() == before
    missing = tmp_path / "no" / "events.csv"
    assert main(["convert", str(export), "--output", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot write {missing}: No such file or directory\n"
    )


def test_monitor_feed_reports_undecodable_ids_and_huge_integers(
    design: compliance.Rulebook,
) -> None:
    with compliance.Monitor(design) as monitor:
        monitor.feed({"id": "a\udcff", "date": "2019-06-10"})
        monitor.feed({"id": 10**5000, "date": "2019-06-10"})
        report = monitor.report()
    report.to_json().encode("utf-8")
    assert report.rejected[0].id == "a\\xff"
    assert report.accounting.rejected == 2
