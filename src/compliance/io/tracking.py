"""Vessel-tracking exports (Global Fishing Watch encounters and port visits) as events.

    conversion = convert_tracking("encounters.csv")            # the kind from the header
    conversion = convert_tracking("visits.json", "gfw-port-visits")
    print(conversion.summary())                                 # converted 12, unmapped 1
    Path("events.csv").write_text(conversion.to_csv())          # `compliance evaluate` reads it

An encounter becomes a ship-to-ship transfer (`transfer: ship_to_ship`, the row's vessel in
`vessel_imo`, the encountered vessel in `counterparty_imo`); a port visit becomes a port
call (`transfer: port`, `destination` = the port's country). Which GFW column feeds which
field is the table `COLUMNS` below, documented with its sources in docs/tracking.md.
Every row ends converted or unmapped (with its location and reason); problems that do
not stop a row from converting (an IMO number failing its check digit, a flag that is
not an ISO 3166 code) are warnings, and the offending text is kept in an extra column.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from compliance._codes import ALPHA3_TO_ALPHA2, COUNTRIES
from compliance.errors import Diagnostic, LogError, located
from compliance.events import FIELDS, Shipment, imo_check_digit_ok, parse_shipment
from compliance.io.tracking_rows import TrackingRow, rows_from

__all__ = [
    "COLUMNS",
    "SOURCES",
    "Conversion",
    "Note",
    "TrackingSource",
    "convert_tracking",
    "detect_source",
    "read_vessels",
]

TrackingSource = Literal["gfw-encounters", "gfw-port-visits", "gfw-events"]
SOURCES: tuple[TrackingSource, ...] = ("gfw-encounters", "gfw-port-visits", "gfw-events")

# Field -> the GFW column names it is read from, first present wins. Sources (full
# citations in docs/tracking.md): the Events API and gfw-api-python-client's EventItem
# (dotted: nested JSON flattened; snake_case: the client's model_dump), the Carrier
# Vessel Portal CSV download (dotted), the GFW map's event report CSV (camelCase), the
# transshipment dataset of Miller et al. 2018 (snake_case *_mmsi) and the BigQuery
# port-visit table of the anchorages pipeline (joined to named anchorages for `iso3`).
_ANCHORAGE = ("port_visit.intermediateAnchorage", "portVisit.intermediateAnchorage")
_START_ANCHORAGE = ("port_visit.startAnchorage", "portVisit.startAnchorage")
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "visit_id", "port_visit.visitId", "portVisit.visitId"),
    "type": ("type",),
    "start": ("start", "start_time", "start_timestamp"),
    "end": ("end", "end_time", "end_timestamp"),
    "lat": ("position.lat", "latitude", "mean_latitude", "start_lat", "lat"),
    "lon": ("position.lon", "longitude", "mean_longitude", "start_lon", "lon"),
    "vessel_imo": ("imo",),
    "vessel_mmsi": ("vessel.ssvid", "vesselMMSI", "ssvid", "fishing_vessel_mmsi", "mmsi"),
    "vessel_gfw_id": ("vessel.id", "vesselId", "vessel_id"),
    "vessel_name": ("vessel.name", "vesselName"),
    "vessel_flag": ("vessel.flag", "vesselFlag"),
    "vessel_type": ("vessel.type", "vesselType"),
    "counterparty_imo": (),
    "counterparty_mmsi": ("encounter.vessel.ssvid", "transshipment_vessel_mmsi"),
    "counterparty_gfw_id": ("encounter.vessel.id", "encounteredVesselId"),
    "counterparty_name": ("encounter.vessel.name", "encounteredVesselName"),
    "counterparty_flag": ("encounter.vessel.flag", "encounteredVesselFlag"),
    "counterparty_type": ("encounter.vessel.type", "encounteredVesselType"),
    "median_distance_km": (
        "encounter.medianDistanceKilometers",
        "encounter.median_distance_kilometers",
        "median_distance_km",
    ),
    "median_speed_knots": (
        "encounter.medianSpeedKnots",
        "encounter.median_speed_knots",
        "median_speed_knots",
    ),
    "duration_hours": (
        "duration_hr",
        "port_visit.durationHrs",
        "portVisit.durationHrs",
        "port_visit.duration_hrs",
        "duration_hrs",
    ),
    "port_country": (
        *(f"{a}.flag" for a in _ANCHORAGE),
        "port_visit.intermediate_anchorage.flag",
        "portVisitFlag",
        "iso3",
        *(f"{a}.flag" for a in _START_ANCHORAGE),
        "port_visit.start_anchorage.flag",
    ),
    "port_name": (
        *(f"{a}.name" for a in _ANCHORAGE),
        "port_visit.intermediate_anchorage.name",
        "portVisitName",
        "label",
        *(f"{a}.name" for a in _START_ANCHORAGE),
    ),
    "anchorage_id": (
        *(f"{a}.id" for a in _ANCHORAGE),
        "port_visit.intermediate_anchorage.id",
        "portVisitId",
        "start_anchorage_id",
    ),
    "confidence": ("port_visit.confidence", "portVisit.confidence", "confidence"),
}
# Columns whose presence tells an encounters export from a port-visits one.
_ENCOUNTER_SIGNS = ("counterparty_mmsi", "counterparty_gfw_id", "counterparty_name")
_PORT_SIGNS = ("port_country", "port_name", "anchorage_id")
_ENCOUNTER_TYPES = frozenset({"encounter"})
_PORT_TYPES = frozenset({"port_visit", "port"})
_KIND_SOURCE = {"encounter": "gfw-encounters", "port": "gfw-port-visits"}
# Carried as extra attributes (`extra.<name>` in rules) when present.
_ENCOUNTER_EXTRAS: tuple[str, ...] = (
    "end",
    "lat",
    "lon",
    "duration_hours",
    "vessel_mmsi",
    "vessel_gfw_id",
    "vessel_type",
    "counterparty_mmsi",
    "counterparty_gfw_id",
    "counterparty_name",
    "counterparty_type",
    "median_distance_km",
    "median_speed_knots",
)
_PORT_EXTRAS: tuple[str, ...] = (
    "end",
    "lat",
    "lon",
    "duration_hours",
    "vessel_mmsi",
    "vessel_gfw_id",
    "vessel_type",
    "port_name",
    "anchorage_id",
    "confidence",
)
_BIGQUERY_UTC = re.compile(r"\s+UTC$")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_FLOAT_INTEGER = re.compile(r"^(\d+)\.0+$")


@dataclass(frozen=True)
class Note:
    """A row that was not converted, or converted with a warning: where, and why."""

    source: str
    line: int | None
    index: int | None
    message: str

    def location(self) -> str:
        return located(self.source, self.line, self.index)

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        if self.index is not None:
            out["index"] = self.index
        return out


@dataclass
class Conversion:
    """The events converted from one export, and every row that was not."""

    source: TrackingSource
    rows: int = 0
    events: list[Shipment] = field(default_factory=list)
    unmapped: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)

    @property
    def converted(self) -> int:
        """Input rows converted (an encounter given in both directions counts once)."""
        return self.rows - len(self.unmapped)

    @property
    def exit_code(self) -> int:
        """2 when any row was unmapped (the evaluation of the output would be
        incomplete, as `evaluate` exits 2 on a rejected record), else 0."""
        return 2 if self.unmapped else 0

    def summary(self) -> str:
        text = f"converted {self.converted}, unmapped {len(self.unmapped)}"
        if len(self.events) != self.converted:
            text += f" ({len(self.events)} events)"
        if self.warnings:
            text += f"; {len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}"
        return text

    def records(self) -> list[dict[str, Any]]:
        return [event.to_record() for event in self.events]

    def to_jsonl(self) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records())

    def to_csv(self) -> str:
        records = self.records()
        present = {k for r in records for k in r}
        header = [f for f in FIELDS if f in present] + sorted(present - set(FIELDS))
        out = io.StringIO()
        writer = csv.DictWriter(out, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()


def convert_tracking(
    source: str | Path | Iterable[Mapping[str, Any]],
    kind: TrackingSource | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    both_directions: bool = False,
    vessels: Mapping[str, str] | None = None,
) -> Conversion:
    """Convert a GFW encounters or port-visits export into compliance events.

    >>> conversion = convert_tracking([{"id": "e1", "start": "2019-03-02T10:00:00Z",
    ...     "vessel.ssvid": "445123000", "encounter.vessel.ssvid": "352001000"}],
    ...     "gfw-encounters")
    >>> conversion.events[0].transfer, conversion.events[0].extra["counterparty_mmsi"]
    ('ship_to_ship', '352001000')

    Args:
        source: a file path (CSV, JSON Lines, JSON array or Events API response; `-` for
            standard input) or an iterable of mappings (nested ones are flattened).
        kind: `gfw-encounters`, `gfw-port-visits` or `gfw-events` (each row by its
            `type`); None to tell from the columns.
        columns: `{field: column}` overrides of `COLUMNS`; `extra.NAME` carries any column
            as an extra attribute.
        both_directions: also emit each encounter with its vessels swapped, since an
            encounter does not say which vessel gave and which received.
        vessels: MMSI → IMO, to fill `vessel_imo`/`counterparty_imo` where the export
            has only MMSIs (see `read_vessels`).

    Raises:
        LogError: the file cannot be read, or its kind cannot be told from its columns.
        ValueError: `columns` names an unknown field.
    """
    overrides = _check_overrides(columns or {})
    rows = list(rows_from(source))
    if kind is None:
        if not rows:
            raise LogError(Diagnostic(_name(source), "no rows: cannot tell the kind of export"))
        kind = detect_source(_header(rows), overrides, _name(source))
    conversion = Conversion(kind)
    mapper = _Mapper(kind, overrides, both_directions, vessels or {}, conversion)
    for row in rows:
        conversion.rows += 1
        mapper.convert(row)
    return conversion


def detect_source(
    header: Iterable[str], columns: Mapping[str, str] | None = None, name: str = "<export>"
) -> TrackingSource:
    """The kind of export its column names show, or a `LogError` saying why not."""
    present = set(header)

    def has(fields: Iterable[str]) -> bool:
        return any(_column(f, present, columns or {}) for f in fields)

    encounter, port = has(_ENCOUNTER_SIGNS), has(_PORT_SIGNS)
    if encounter and port:
        if has(["type"]):
            return "gfw-events"
        raise LogError(
            Diagnostic(
                name,
                "has both encounter and port-visit columns and no `type` column: "
                "pass --from gfw-encounters or --from gfw-port-visits",
                1,
            )
        )
    if encounter:
        return "gfw-encounters"
    if port:
        return "gfw-port-visits"
    raise LogError(
        Diagnostic(
            name,
            "cannot tell an encounters export from a port-visits one: no encountered-vessel "
            "column (such as encounter.vessel.ssvid, transshipment_vessel_mmsi, "
            "encounteredVesselName) and no port column (such as "
            "port_visit.intermediateAnchorage.flag, portVisitFlag, iso3); pass --from, or "
            "name the columns with --column FIELD=COLUMN (docs/tracking.md lists them)",
            1,
        )
    )


def read_vessels(path: str | Path) -> tuple[dict[str, str], list[Note]]:
    """MMSI → IMO from a vessel list (columns `ssvid` or `mmsi`, and `imo`).

    GFW's vessel identities carry both (`ssvid` and `imo` in the Vessels API's registry
    and self-reported records). An MMSI listed with two different valid IMOs is left
    out (MMSIs are reused), and so is an invalid IMO; each is a warning.
    """
    found: dict[str, set[str]] = {}
    notes: list[Note] = []
    for row in rows_from(path):
        note = _note_at(row)
        mmsi = _mmsi(row.columns.get("ssvid") or row.columns.get("mmsi") or "")
        imo_text = (row.columns.get("imo") or "").strip()
        if row.problem or not mmsi or not imo_text:
            continue
        imo = _imo(imo_text)
        if imo is None:
            notes.append(note(f"vessel list: imo is not a valid IMO number (got {imo_text!r})"))
            continue
        found.setdefault(mmsi, set()).add(imo)
    table: dict[str, str] = {}
    for mmsi, imos in sorted(found.items()):
        if len(imos) == 1:
            table[mmsi] = imos.pop()
        else:
            imos_text = ", ".join(sorted(imos))
            notes.append(
                Note(str(path), None, None, f"vessel list: MMSI {mmsi} has IMOs {imos_text}")
            )
    return table, notes


class _Mapper:
    def __init__(
        self,
        kind: TrackingSource,
        overrides: Mapping[str, str],
        both_directions: bool,
        vessels: Mapping[str, str],
        out: Conversion,
    ) -> None:
        self.kind, self.overrides, self.both = kind, overrides, both_directions
        self.vessels, self.out = vessels, out
        self.plans: dict[frozenset[str], dict[str, str]] = {}

    def convert(self, row: TrackingRow) -> None:
        note = _note_at(row)
        if row.problem is not None:
            self.out.unmapped.append(note(row.problem))
            return
        bad = sorted(k for k, v in row.columns.items() if _UNDECODABLE.search(k + v))
        if bad:
            self.out.unmapped.append(note(f"{bad[0]}: is not valid UTF-8"))
            return
        get = self._getter(row.columns)
        kind, why = self._kind(get("type"))
        if kind is None:
            self.out.unmapped.append(note(why))
            return
        warnings: list[str] = []
        result = self._event(get, kind, warnings, row.columns)
        if isinstance(result, str):
            self.out.unmapped.append(note(result))
            return
        shipments: list[Shipment] = []
        for record in result:
            extra = record.pop("extra")
            parsed = parse_shipment({**extra, **record})
            if isinstance(parsed, list):  # a mapping of ours the contract refuses
                self.out.unmapped.append(note("; ".join(str(p) for p in parsed)))
                return
            shipments.append(parsed)
        self.out.events.extend(shipments)
        self.out.warnings.extend(note(w) for w in warnings)

    def _getter(self, columns: Mapping[str, str]) -> Any:
        # Which column feeds which field depends only on the set of column names: one
        # plan per header (a CSV has one; JSON objects differ by event type).
        names = frozenset(columns)
        plan = self.plans.get(names)
        if plan is None:
            plan = {}
            for name in COLUMNS:
                column = _column(name, names, self.overrides)
                if column is not None:
                    plan[name] = column
            self.plans[names] = plan

        def get(name: str) -> str | None:
            column = plan.get(name)
            if column is None:
                return None
            return columns[column].strip() or None

        return get

    def _kind(self, type_text: str | None) -> tuple[str | None, str]:
        """(`encounter` or `port`, "") for this row, or (None, why not)."""
        expected = {"gfw-encounters": "encounter", "gfw-port-visits": "port"}.get(self.kind)
        if type_text is None:
            if expected is None:
                return None, "type: missing; --from gfw-events needs each row's event type"
            return expected, ""
        value = type_text.lower()
        actual = (
            "encounter" if value in _ENCOUNTER_TYPES else "port" if value in _PORT_TYPES else None
        )
        if actual is None:
            return (
                None,
                f"type: a {_shown(type_text)} event is neither an encounter nor a port visit",
            )
        if expected is not None and actual != expected:
            return None, (
                f"type: a {_shown(type_text)} event in a {self.kind} export "
                f"(convert it with --from {_KIND_SOURCE[actual]} or gfw-events)"
            )
        return actual, ""

    def _event(
        self, get: Any, kind: str, warnings: list[str], columns: Mapping[str, str]
    ) -> list[dict[str, Any]] | str:
        start_text = get("start")
        if start_text is None:
            return f"start: missing (looked for {_tried('start', self.overrides)})"
        start = _moment(start_text)
        if start is None:
            return f"start: not an ISO 8601 date or time (got {_shown(start_text)})"
        record: dict[str, Any] = {"date": start.date().isoformat()}
        extra: dict[str, str] = {}
        end_text = get("end")
        if end_text is not None:
            end = _moment(end_text)
            if end is None:
                warnings.append(f"end: not an ISO 8601 date or time (got {_shown(end_text)})")
            else:
                extra["end"] = end.isoformat().replace("+00:00", "Z")
                if get("duration_hours") is None and end >= start:
                    hours = Decimal((end - start).total_seconds()) / 3600
                    extra["duration_hours"] = _decimal_text(hours.quantize(Decimal("0.01")))
        vessel = self._vessel("vessel", get, warnings, extra)
        if vessel is None:
            return f"no vessel identifier (looked for {self._identifiers('vessel')})"
        record.update(vessel)
        if kind == "encounter":
            counterparty = self._vessel("counterparty", get, warnings, extra)
            if counterparty is None:
                return (
                    "no encountered-vessel identifier "
                    f"(looked for {self._identifiers('counterparty')})"
                )
            record.update(counterparty)
            record["transfer"] = "ship_to_ship"
            record["source"] = "gfw-encounters"
            names = _ENCOUNTER_EXTRAS
        else:
            country_text = get("port_country")
            if country_text is None:
                return f"no port country (looked for {_tried('port_country', self.overrides)})"
            country = _country(country_text)
            if country is None:
                return (
                    "port_country: not an ISO 3166-1 alpha-3 or alpha-2 code "
                    f"(got {_shown(country_text)})"
                )
            record["destination"] = country
            record["transfer"] = "port"
            record["source"] = "gfw-port-visits"
            names = _PORT_EXTRAS
        for name in names:
            value = get(name)
            if value is not None and name not in extra:
                extra[name] = _mmsi(value) if name.endswith("_mmsi") else value
        for name, column in self.overrides.items():
            if name.startswith("extra.") and column in columns and columns[column].strip():
                extra[name[6:]] = columns[column].strip()
        record["id"] = get("id") or _row_id(kind, columns)
        if kind == "encounter" and self.both:
            return [
                {**record, "extra": {**extra, "direction": "as-listed"}},
                _reversed(record, extra),
            ]
        return [{**record, "extra": extra}]

    def _vessel(
        self, role: str, get: Any, warnings: list[str], extra: dict[str, str]
    ) -> dict[str, str] | None:
        """The `role`'s IMO, name and flag fields, or None when nothing identifies it."""
        out: dict[str, str] = {}
        imo_text, mmsi = get(f"{role}_imo"), get(f"{role}_mmsi")
        gfw_id = get(f"{role}_gfw_id")
        name = get(f"{role}_name")
        if imo_text is not None:
            _take(out, f"{role}_imo", imo_text, _imo(imo_text),
                  "not a valid IMO number (7 digits, check digit verified)",
                  f"{role}_imo_invalid", extra, warnings)  # fmt: skip
        if f"{role}_imo" not in out and mmsi is not None:
            looked_up = self.vessels.get(_mmsi(mmsi))
            if looked_up is not None:
                out[f"{role}_imo"] = looked_up
                extra[f"{role}_imo_from"] = "vessel list"
        if not (out or mmsi or gfw_id or imo_text or name):
            return None
        if name is not None and role == "vessel":
            out["vessel_name"] = name
        flag_text = get(f"{role}_flag")
        if flag_text is not None:
            _take(out, f"{role}_flag", flag_text, _country(flag_text),
                  "not an ISO 3166-1 alpha-3 or alpha-2 code", f"{role}_flag_raw",
                  extra, warnings)  # fmt: skip
        return out

    def _identifiers(self, role: str) -> str:
        fields = [f"{role}_{part}" for part in ("imo", "mmsi", "gfw_id", "name")]
        return ", ".join(
            _tried(f, self.overrides) for f in fields if COLUMNS[f] or f in self.overrides
        )


def _take(
    out: dict[str, str], name: str, text: str, value: str | None, expected: str,
    kept_as: str, extra: dict[str, str], warnings: list[str],
) -> None:  # fmt: skip
    """`value`, read from `text`, as the field `name`; a text that reads as nothing is kept
    as the extra field `kept_as`, with a warning saying why."""
    if value is not None:
        out[name] = value
        return
    extra[kept_as] = text
    warnings.append(f"{name}: {expected} (got {_shown(text)}); kept as extra.{kept_as}")


def _reversed(record: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, Any]:
    """The same encounter with the vessels swapped: the encountered one gives."""
    out: dict[str, Any] = {k: v for k, v in record.items() if not k.startswith("counterparty_")}
    out.pop("vessel_imo", None)
    out.pop("vessel_flag", None)
    out.pop("vessel_name", None)
    for part in ("imo", "flag"):
        if f"counterparty_{part}" in record:
            out[f"vessel_{part}"] = record[f"counterparty_{part}"]
        if f"vessel_{part}" in record:
            out[f"counterparty_{part}"] = record[f"vessel_{part}"]
    swapped: dict[str, str] = {}
    for key, value in extra.items():
        if key.startswith("vessel_"):
            swapped["counterparty_" + key[7:]] = value
        elif key.startswith("counterparty_"):
            swapped["vessel_" + key[13:]] = value
        else:
            swapped[key] = value
    if "vessel_name" in swapped:
        out["vessel_name"] = swapped.pop("vessel_name")
    if "vessel_name" in record:
        swapped["counterparty_name"] = record["vessel_name"]
    swapped["direction"] = "reversed"
    out["id"] = f"{record['id']}:reversed"
    out["extra"] = swapped
    return out


def _check_overrides(columns: Mapping[str, str]) -> dict[str, str]:
    for name, column in columns.items():
        if name.startswith("extra."):
            if name[6:] in FIELDS or not name[6:]:
                raise ValueError(
                    f"--column {name}={column}: an extra attribute needs a name that is not "
                    "an event field"
                )
            continue
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, list(COLUMNS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"--column {name}={column}: unknown field{hint}; expected one of "
                f"{', '.join(COLUMNS)}, or extra.NAME"
            )
        if not column:
            raise ValueError(f"--column {name}=: the column name is empty")
    return dict(columns)


def _column(name: str, present: Iterable[str], overrides: Mapping[str, str]) -> str | None:
    if name in overrides:
        column = overrides[name]
        return column if column in present else None
    keys = present if isinstance(present, set | frozenset | dict) else set(present)
    for candidate in COLUMNS[name]:
        if candidate in keys:
            return candidate
    return None


def _tried(name: str, overrides: Mapping[str, str]) -> str:
    if name in overrides:
        return f"column {overrides[name]!r}"
    candidates = COLUMNS[name]
    return "/".join(candidates) if candidates else f"no default column for {name}"


def _header(rows: list[TrackingRow]) -> set[str]:
    """A CSV's header; for JSON, whose objects differ by event type, every key seen."""
    if rows[0].header:
        return set(rows[0].header)
    return {key for row in rows for key in row.columns}


def _name(source: object) -> str:
    return str(source) if isinstance(source, str | Path) else "<records>"


def _note_at(row: TrackingRow) -> Any:
    def note(message: str) -> Note:
        return Note(row.source, row.line, row.index, message)

    return note


def _moment(text: str) -> datetime | None:
    """An ISO 8601 date or time at UTC; GFW gives UTC, so a naive time is taken as UTC.
    BigQuery's CSV export writes `2019-03-02 10:00:00 UTC`."""
    text = _BIGQUERY_UTC.sub("", text.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _imo(text: str) -> str | None:
    number = text.strip().upper().removeprefix("IMO").strip()
    number = _FLOAT_INTEGER.sub(r"\1", number)
    if len(number) == 7 and number.isdigit() and imo_check_digit_ok(number):
        return number
    return None


def _mmsi(text: str) -> str:
    """A number re-saved by a spreadsheet or pandas (`416565000.0`) is the same MMSI."""
    return _FLOAT_INTEGER.sub(r"\1", text.strip())


def _country(text: str) -> str | None:
    code = text.strip().upper()
    if len(code) == 3:
        return ALPHA3_TO_ALPHA2.get(code)
    return code if code in COUNTRIES else None


def _decimal_text(d: Decimal) -> str:
    try:
        return format(d.normalize(), "f")
    except InvalidOperation:  # pragma: no cover - quantized hours are always finite
        return str(d)


def _row_id(kind: str, columns: Mapping[str, str]) -> str:
    """A stable id for a row without a GFW event id: a hash of its columns, so the same
    row converted twice gets the same id (and `evaluate` counts it once)."""
    canonical = json.dumps(sorted(columns.items()), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return f"gfw-{kind}-{digest[:16]}"


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
