"""Vessel-tracking exports (GFW encounters, port visits) converted to events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compliance
from compliance._codes import ALPHA3_TO_ALPHA2, COUNTRIES
from compliance.cli import main
from compliance.errors import LogError
from compliance.events import Shipment, parse_shipment
from compliance.io.tracking import COLUMNS, Conversion, convert_tracking, read_vessels

DATA = Path(__file__).parent / "data" / "tracking"
PORTAL = DATA / "portal-encounters.csv"
TRANSSHIPMENT = DATA / "transshipment-encounters.csv"
MAP_VISITS = DATA / "map-port-visits.csv"
API = DATA / "api-events.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def write(tmp_path: Path, body: str | bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    return path


def accounted(conversion: Conversion) -> None:
    assert conversion.converted + len(conversion.unmapped) == conversion.rows
    for event in conversion.events:
        assert isinstance(parse_shipment(event.to_record()), Shipment)


# --- the ISO 3166 alpha-3 table -------------------------------------------------------


def test_alpha3_table_covers_every_alpha2_code_once() -> None:
    assert len(ALPHA3_TO_ALPHA2) == 249
    assert sorted(ALPHA3_TO_ALPHA2.values()) == sorted(COUNTRIES)
    assert ALPHA3_TO_ALPHA2["PRK"] == "KP" and ALPHA3_TO_ALPHA2["KOR"] == "KR"
    assert ALPHA3_TO_ALPHA2["SLE"] == "SL" and ALPHA3_TO_ALPHA2["CUW"] == "CW"


# --- encounters ------------------------------------------------------------------------


def test_portal_encounter_becomes_a_ship_to_ship_transfer() -> None:
    conversion = convert_tracking(PORTAL)
    assert conversion.source == "gfw-encounters"
    event = conversion.events[0]
    assert event.transfer == "ship_to_ship" and event.source == "gfw-encounters"
    assert event.date.isoformat() == "2019-03-02"
    assert (event.vessel_flag, event.counterparty_flag) == ("SL", "KP")
    assert event.vessel_name == "EXAMPLE GIVER"
    assert event.vessel_imo is None and event.counterparty_imo is None
    assert event.extra["vessel_mmsi"] == "667001234"
    assert event.extra["counterparty_mmsi"] == "445123000"
    assert event.extra["counterparty_name"] == "EXAMPLE RECEIVER"
    assert event.extra["lat"] == "31.2512" and event.extra["lon"] == "123.9011"
    assert event.extra["end"] == "2019-03-02T16:50:00Z"
    assert event.extra["duration_hours"] == "6.5"
    assert event.extra["median_distance_km"] == "0.04"
    assert event.hs_code is None and event.quantity is None  # an encounter names no goods
    accounted(conversion)


def test_every_portal_row_is_converted_or_unmapped_with_its_line() -> None:
    conversion = convert_tracking(PORTAL)
    assert (conversion.rows, conversion.converted) == (4, 2)
    assert [(n.line, n.message.split(":")[0]) for n in conversion.unmapped] == [
        (4, "start"),
        (
            5,
            "no encountered-vessel identifier (looked for encounter.vessel.ssvid/"
            "transshipment_vessel_mmsi, encounter.vessel.id/encounteredVesselId, "
            "encounter.vessel.name/encounteredVesselName)",
        ),
    ]
    assert conversion.summary() == "converted 2, unmapped 2; 1 warning"
    assert conversion.exit_code == 2


def test_a_flag_that_is_no_iso_code_is_a_warning_and_kept_as_text() -> None:
    conversion = convert_tracking(PORTAL)
    old_flag = conversion.events[1]
    assert old_flag.vessel_flag is None and old_flag.extra["vessel_flag_raw"] == "ANT"
    (warning,) = conversion.warnings
    assert warning.line == 3 and "vessel_flag" in warning.message and "'ANT'" in warning.message


def test_transshipment_dataset_rows_keep_their_mmsis() -> None:
    conversion = convert_tracking(TRANSSHIPMENT)
    assert conversion.source == "gfw-encounters" and conversion.exit_code == 0
    first = conversion.events[0]
    assert first.extra["vessel_mmsi"] == "416000001"
    assert first.extra["counterparty_mmsi"] == "354000002"
    assert first.extra["duration_hours"] == "11.333333333333334"  # GFW's own figure
    assert first.date.isoformat() == "2016-11-18"


def test_ids_are_gfw_event_ids_or_stable_hashes_of_the_row(tmp_path: Path) -> None:
    api = convert_tracking(API, "gfw-encounters")
    assert api.events[0].id == "5cb2a1f0e1f4f1d0a9c3b7e2a1d4c6b8"
    once = [e.id for e in convert_tracking(TRANSSHIPMENT).events]
    moved = write(tmp_path, TRANSSHIPMENT.read_text(), "elsewhere.csv")
    assert [e.id for e in convert_tracking(moved).events] == once  # not tied to the file
    assert len(set(once)) == 2 and all(i.startswith("gfw-encounter-") for i in once)


def test_both_directions_emits_the_swapped_transfer_too() -> None:
    conversion = convert_tracking(PORTAL, both_directions=True)
    forward, backward = conversion.events[0], conversion.events[1]
    assert backward.id == forward.id + ":reversed"
    assert (backward.vessel_flag, backward.counterparty_flag) == ("KP", "SL")
    assert backward.vessel_name == "EXAMPLE RECEIVER"
    assert backward.extra["vessel_mmsi"] == "445123000"
    assert backward.extra["counterparty_mmsi"] == "667001234"
    assert backward.extra["counterparty_name"] == "EXAMPLE GIVER"
    assert (forward.extra["direction"], backward.extra["direction"]) == ("as-listed", "reversed")
    assert conversion.summary() == "converted 2, unmapped 2 (4 events); 1 warning"


def test_an_imo_column_is_verified_and_a_bad_one_kept_as_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "start,imo,vessel.ssvid,encounter.vessel.ssvid,cp_imo\n"
        "2019-03-02T10:00:00Z,IMO 9123453,667001234,445123000,9234563\n"
        "2019-03-03T10:00:00Z,9123454,667001234,445123000,\n",
    )
    conversion = convert_tracking(path, columns={"counterparty_imo": "cp_imo"})
    good, bad = conversion.events
    assert (good.vessel_imo, good.counterparty_imo) == ("9123453", "9234563")
    assert bad.vessel_imo is None and bad.extra["vessel_imo_invalid"] == "9123454"
    (warning,) = conversion.warnings
    assert warning.line == 3 and "check digit" in warning.message
    assert conversion.exit_code == 0  # converted, with a warning


def test_a_vessel_list_fills_imos_from_mmsis(tmp_path: Path) -> None:
    vessels = write(
        tmp_path,
        "ssvid,imo,shipname\n"
        "667001234,9123453,EXAMPLE GIVER\n"
        "445123000,9234563,EXAMPLE RECEIVER\n"
        "354000002,9345673,A\n354000002,9456783,B\n"  # a reused MMSI: left out
        "412000222,1234568,C\n",  # not a valid IMO number
        "vessels.csv",
    )
    table, notes = read_vessels(vessels)
    assert table == {"667001234": "9123453", "445123000": "9234563"}
    assert sorted(n.message.split(":")[1].split()[0] for n in notes) == ["MMSI", "imo"]
    event = convert_tracking(PORTAL, vessels=table).events[0]
    assert (event.vessel_imo, event.counterparty_imo) == ("9123453", "9234563")
    assert event.extra["vessel_imo_from"] == "vessel list"


def test_rows_without_imo_keep_the_mmsi_for_later_designation() -> None:
    event = convert_tracking(TRANSSHIPMENT).events[1]
    assert event.vessel_imo is None and event.get("extra.vessel_mmsi") == "412000003"


# --- port visits -------------------------------------------------------------------------


def test_map_port_visit_becomes_a_port_call_in_the_ports_country() -> None:
    conversion = convert_tracking(MAP_VISITS)
    assert conversion.source == "gfw-port-visits"
    nampo = conversion.events[0]
    assert (nampo.transfer, nampo.destination, nampo.source) == ("port", "KP", "gfw-port-visits")
    assert nampo.date.isoformat() == "2019-03-12" and nampo.vessel_flag == "KP"
    assert nampo.extra["port_name"] == "NAMPO" and nampo.extra["vessel_mmsi"] == "445123000"
    assert nampo.hs_code is None and nampo.quantity is None
    assert [(n.line, n.message) for n in conversion.unmapped] == [
        (4, "port_country: not an ISO 3166-1 alpha-3 or alpha-2 code (got 'XYZ')"),
        (5, "type: a 'fishing' event is neither an encounter nor a port visit"),
    ]
    accounted(conversion)


def test_bigquery_port_visits_joined_to_named_anchorages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "visit_id,vessel_id,ssvid,start_timestamp,end_timestamp,start_lat,start_lon,"
        "duration_hrs,confidence,label,iso3\n"
        "v1,abc,445123000,2019-03-12 04:00:00 UTC,2019-03-14 18:00:00 UTC,38.7,125.4,62,4,"
        "NAMPO,PRK\n"
        "v2,abc,445123000,2019-03-31 23:30:00-02:00,,38.7,125.4,1,2,NAMPO,\n",
    )
    conversion = convert_tracking(path)
    assert conversion.source == "gfw-port-visits"
    (event,) = conversion.events
    assert (event.id, event.destination, event.date.isoformat()) == ("v1", "KP", "2019-03-12")
    assert event.extra["confidence"] == "4" and event.extra["vessel_gfw_id"] == "abc"
    (unmapped,) = conversion.unmapped
    assert unmapped.line == 3 and unmapped.message.startswith("no port country")


def test_dates_are_the_utc_date_of_the_start(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "start,vesselMMSI,portVisitFlag\n"
        "2019-03-31T23:30:00-02:00,1,PRK\n"  # 1 April at UTC
        "2019-03-31T23:30:00,2,PRK\n",  # naive: GFW times are UTC
    )
    dates = [e.date.isoformat() for e in convert_tracking(path).events]
    assert dates == ["2019-04-01", "2019-03-31"]


# --- mixed exports and detection -----------------------------------------------------------


def test_api_response_with_several_event_types_goes_row_by_row() -> None:
    conversion = convert_tracking(API)
    assert conversion.source == "gfw-events"
    sts, call = conversion.events
    assert sts.transfer == "ship_to_ship" and sts.extra["counterparty_gfw_id"].endswith("001")
    assert (call.transfer, call.destination, call.id) == (
        "port",
        "KP",
        "7e1d3c5b9a2f4e6d8c0b1a3f5e7d9c2b",
    )
    assert call.extra["anchorage_id"] == "prk-nampo-2"  # the intermediate anchorage
    assert call.extra["duration_hours"] == "62.0" and call.extra["confidence"] == "4"
    (loitering,) = conversion.unmapped
    assert loitering.index == 2 and "'loitering'" in loitering.message


def test_python_client_records_with_nested_snake_case_fields() -> None:
    # gfw-api-python-client: result.df() rows are EventItem.model_dump() dicts
    row = {
        "id": "e9",
        "type": "port_visit",
        "start": "2019-03-12T04:00:00+00:00",
        "position": {"lat": 38.7, "lon": 125.4},
        "vessel": {"ssvid": "445123000", "name": "R", "flag": "PRK", "id": None},
        "port_visit": {"duration_hrs": 3.5, "intermediate_anchorage": {"flag": "PRK"}},
        "encounter": None,
    }
    (event,) = compliance.convert_tracking([row], "gfw-events").events
    assert (event.destination, event.extra["duration_hours"]) == ("KP", "3.5")


def test_a_port_visit_in_an_encounters_export_says_how_to_convert_it() -> None:
    conversion = convert_tracking(API, "gfw-encounters")
    assert "--from gfw-port-visits" in conversion.unmapped[0].message


def test_an_export_of_unknown_shape_is_refused_with_what_was_looked_for(tmp_path: Path) -> None:
    path = write(tmp_path, "when,who\n2019-01-01,x\n")
    with pytest.raises(LogError, match=r"cannot tell .*encounter\.vessel\.ssvid.*--from"):
        convert_tracking(path)
    mixed = write(tmp_path, "start,encounteredVesselName,portVisitFlag\n2019-01-01,a,PRK\n")
    with pytest.raises(LogError, match="no `type` column"):
        convert_tracking(mixed)


def test_column_overrides_name_fields_and_carry_extras(tmp_path: Path) -> None:
    path = write(tmp_path, "when,ship,port_cc,note\n2019-01-01,1,PRK,seen by patrol\n")
    conversion = convert_tracking(
        path,
        "gfw-port-visits",
        columns={
            "start": "when",
            "vessel_mmsi": "ship",
            "port_country": "port_cc",
            "extra.note": "note",
        },
    )
    (event,) = conversion.events
    assert event.destination == "KP" and event.extra["note"] == "seen by patrol"
    with pytest.raises(ValueError, match="did you mean 'port_country'"):
        convert_tracking(path, columns={"port_contry": "port_cc"})
    with pytest.raises(ValueError, match="not an event field"):
        convert_tracking(path, columns={"extra.destination": "port_cc"})


def test_every_documented_field_has_a_row_in_the_docs() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "tracking.md").read_text()
    for name, candidates in COLUMNS.items():
        assert f"`{name}`" in doc, name
        for column in candidates:
            assert f"`{column}`" in doc, column


# --- unreadable input ------------------------------------------------------------------------


def test_bytes_that_are_not_utf8_unmap_their_row_only(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        b"start,vesselMMSI,portVisitFlag,portVisitName\n"
        b"2019-03-12,1,PRK,NAMPO\n"
        b"2019-03-13,2,PRK,NAM\xff\xfePO\n",
    )
    conversion = convert_tracking(path)
    assert conversion.converted == 1
    (bad,) = conversion.unmapped
    assert bad.line == 3 and bad.message == "portVisitName: is not valid UTF-8"


def test_broken_rows_are_unmapped_not_fatal(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "start,vesselMMSI,portVisitFlag\n2019-03-12,1,PRK,extra\n")
    assert "4 fields" in convert_tracking(csv_path).unmapped[0].message
    jsonl = write(
        tmp_path,
        '{"type": "port_visit", "start": "2019-03-12", "vessel": {"ssvid": "1"}, '
        '"port_visit": {"intermediateAnchorage": {"flag": "PRK"}}}\n{not json\n[1]\n',
        "events.jsonl",
    )
    conversion = convert_tracking(jsonl, "gfw-events")
    assert conversion.converted == 1
    assert [(n.line, n.message.split(":")[0]) for n in conversion.unmapped] == [
        (2, "invalid JSON"),
        (3, "expected a JSON object (got list)"),
    ]


def test_a_missing_file_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "convert", "/nonexistent/export.csv")
    assert code == 2 and err.startswith("error: /nonexistent/export.csv: cannot read export")


# --- the command line ------------------------------------------------------------------------


def test_cli_reports_unmapped_rows_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "events.csv"
    code, out, err = run(capsys, "convert", str(MAP_VISITS), "--output", str(out_path))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == (
        f"{MAP_VISITS}:4: unmapped: port_country: not an ISO 3166-1 alpha-3 or alpha-2 "
        "code (got 'XYZ')"
    )
    assert lines[-1] == "converted 2, unmapped 2"
    assert out_path.read_text().startswith("id,date,destination,")


def test_cli_output_is_read_by_evaluate_as_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt, name in (("csv", "events.csv"), ("jsonl", "events.jsonl")):
        events = tmp_path / name
        code, _, err = run(capsys, "convert", str(API), "--format", fmt, "--output", str(events))
        assert code == 2 and err.splitlines()[-1] == "converted 2, unmapped 1"
        code, out, err = run(capsys, "evaluate", str(events), "--format", "json")
        doc = json.loads(out)
        assert doc["accounting"]["read"] == 2 and doc["accounting"]["rejected"] == 0, err


def test_cli_jsonl_to_stdout_and_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "convert",
        str(PORTAL),
        "--from",
        "gfw-encounters",
        "--format",
        "jsonl",
        "--both-directions",
    )
    assert code == 2
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 4 and records[1]["id"].endswith(":reversed")
    assert f"{PORTAL}:3: warning: vessel_flag:" in err


def test_cli_column_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "convert", str(PORTAL), "--column", "vessel_imo")
    assert (code, err) == (2, "error: --column vessel_imo: expected FIELD=COLUMN\n")
    code, _, err = run(capsys, "convert", str(PORTAL), "--column", "vesel_imo=imo")
    assert code == 2 and "did you mean 'vessel_imo'" in err


def test_cli_vessel_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vessels = write(tmp_path, "mmsi,imo\n667001234,9123453\n", "vessels.csv")
    code, out, _ = run(
        capsys, "convert", str(PORTAL), "--vessels", str(vessels), "--format", "jsonl"
    )
    assert code == 2  # the fixture's two unmapped rows
    assert json.loads(out.splitlines()[0])["vessel_imo"] == "9123453"


# --- every row accounted for, whatever the input ----------------------------------------------

_COLUMN_NAMES = sorted({c for cs in COLUMNS.values() for c in cs} | {"junk"})
_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "2019-03-02T10:00:00Z",
            "2019-13-45",
            "PRK",
            "XYZ",
            "KP",
            "9123453",
            "9123454",
            "445123000",
            "port_visit",
            "encounter",
            "loitering",
            "NaN",
            "0",
            "-1e999",
        ]
    ),
    st.text(max_size=12),
)


@given(
    rows=st.lists(st.dictionaries(st.sampled_from(_COLUMN_NAMES), _VALUES, max_size=8), max_size=6),
    kind=st.sampled_from(["gfw-encounters", "gfw-port-visits", "gfw-events"]),
    both=st.booleans(),
)
def test_random_records_never_crash_and_are_all_accounted_for(
    rows: list[dict[str, str]], kind: str, both: bool
) -> None:
    conversion = convert_tracking(rows, kind, both_directions=both)  # type: ignore[arg-type]
    assert conversion.rows == len(rows)
    accounted(conversion)


@given(
    header=st.lists(st.sampled_from(_COLUMN_NAMES), min_size=1, max_size=8),
    body=st.lists(
        st.lists(
            st.one_of(_VALUES, st.binary(max_size=6).map(lambda b: b.decode("latin-1"))), max_size=9
        ),
        max_size=5,
    ),
    garbage=st.binary(max_size=8),
)
def test_random_csv_bytes_never_crash_and_are_all_accounted_for(
    tmp_path_factory: pytest.TempPathFactory,
    header: list[str],
    body: list[list[str]],
    garbage: bytes,
) -> None:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    raw = text.getvalue().encode("utf-8") + garbage
    path = tmp_path_factory.mktemp("random") / "export.csv"
    path.write_bytes(raw)
    for kind in ("gfw-encounters", "gfw-port-visits", "gfw-events"):
        try:
            conversion = convert_tracking(path, kind)
        except LogError:
            continue  # a file that cannot be read at all is one error, not a crash
        accounted(conversion)
        records = conversion.to_csv()  # every event writes
        assert records.count("\n") >= len(conversion.events)


def test_the_example_pair_has_one_transfer_followed_by_a_dprk_call_within_30_days() -> None:
    examples = Path(__file__).parents[1] / "examples" / "tracking"
    vessels, notes = read_vessels(examples / "vessels.csv")
    assert notes == []
    sts = convert_tracking(examples / "gfw-encounters.csv", vessels=vessels)
    calls = convert_tracking(examples / "gfw-port-visits.csv", vessels=vessels)
    assert (sts.summary(), calls.summary()) == (
        "converted 2, unmapped 0",
        "converted 3, unmapped 0",
    )
    pairs = [
        (t.id, c.id)
        for t in sts.events
        for c in calls.events
        if t.counterparty_imo == c.vessel_imo
        and c.destination == "KP"
        and 0 <= (c.date - t.date).days <= 30
    ]
    assert len(pairs) == 1
    assert all(e.vessel_imo and e.counterparty_imo for e in sts.events)
    report = compliance.evaluate([*sts.events, *calls.events], compliance.load_rulebook())
    assert report.findings == [] and report.accounting.rejected == 0


def test_an_api_response_saved_without_a_json_suffix_is_still_one_response(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, API.read_text(), "events.txt")
    conversion = convert_tracking(path)
    assert (conversion.source, conversion.rows, conversion.converted) == ("gfw-events", 3, 2)
