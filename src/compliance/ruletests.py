"""Rule test cases beside the rules (`<rulebook>/tests/*.yaml`), run like `opa test`.

    tests:
      - name: refined cap, one barrel over
        rules: [unscr-2397-refined-petroleum]   # findings of these rules are compared
        events:
          - {id: a, date: 2019-03-01, hs_code: "2710", destination: KP,
             quantity: 500001, unit: bbl}
        expect:                                 # every finding, each by the fields given
          - {rule: unscr-2397-refined-petroleum, kind: cap_exceeded, trigger: a}

The format is `CaseFile` (docs/rule-tests.md): unknown keys, misspelt event fields and
impossible values are load errors, each `file:line:col: case 'name': field: problem`.
`expect` lists every finding of the selected rules (threshold notices included unless
`kinds:` narrows the comparison); each expected entry names only the fields it checks.
A rule is covered when some *passing* case shows it firing and some passing case shows
it silent (listed in `rules:`, no finding).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from compliance.api import Engine

from compliance.errors import Diagnostic, RuleFileError
from compliance.events import FIELDS, parse_shipment
from compliance.report import Finding, FindingKind, Severity
from compliance.rulebook._yaml import Located, YamlProblem, load_located
from compliance.rulebook.load import (
    BUNDLED,
    MAX_FILE_BYTES,
    bundled_rulebook_path,
    load_rulebook,
)
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import DesignationRule
from compliance.rulebook.selectors import fields_of

__all__ = [
    "Case",
    "CaseFile",
    "CaseSpec",
    "Difference",
    "Expectation",
    "Miss",
    "Outcome",
    "coverage",
    "load_cases",
    "run_case",
    "run_cases",
    "run_command",
]


# The format ------------------------------------------------------------------------------


class _Strict(BaseModel):
    # Event ids may be written as numbers (`id: 1`); the finding names them as text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class ExpectedPeriod(_Strict):
    start: dt.date | None = None
    end: dt.date | None = None


class ExpectedMeasure(_Strict):
    unit: str | None = None
    limit: Decimal | None = None
    running: Decimal | None = None
    total: Decimal | None = None
    excess: Decimal | None = None
    threshold: Decimal | None = None
    running_min: Decimal | None = None
    total_min: Decimal | None = None
    basis: dict[str, Decimal] | None = None
    on_notifications: bool | None = None


class ExpectedLink(_Strict):
    step: str | None = None
    event: str | None = None
    date: dt.date | None = None
    days_after: int | None = None


class Expectation(_Strict):
    """One expected finding, by the fields it names (those not named are not compared;
    of `period`, `measure`, `group`, `match` and `price`, only the keys named)."""

    rule: str | None = None
    kind: FindingKind | None = None
    severity: Severity | None = None
    title: str | None = None
    citation: str | None = None
    verified: bool | None = None
    date: dt.date | None = None
    trigger: str | None = None
    events: list[str] | None = None
    period: ExpectedPeriod | None = None
    group: dict[str, str] | None = None
    measure: ExpectedMeasure | None = None
    match: dict[str, str] | None = None
    days_late: int | None = None
    due: dt.date | None = None
    price: dict[str, str] | None = None
    inferred: list[str] | None = None
    chain: list[ExpectedLink] | None = None  # each link by the keys named
    certainty: Literal["certain", "possible"] | None = None
    unquantified: list[str] | None = None
    reached_with: list[str] | None = None
    message: str | None = None


class CaseSpec(_Strict):
    """One case as written: events in, every finding of some rules out."""

    name: str
    description: str | None = None
    rules: list[str] = []
    kinds: list[FindingKind] = []
    # Each event is checked field by field against the event format (`_events`).
    events: list[dict[str, Any]]
    expect: list[Expectation]


class CaseFile(_Strict):
    """A file of cases: `tests: [case, …]`."""

    tests: list[CaseSpec]


_INNER: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (CaseFile, "tests"): CaseSpec,
    (CaseSpec, "expect"): Expectation,
    (Expectation, "period"): ExpectedPeriod,
    (Expectation, "measure"): ExpectedMeasure,
    (Expectation, "chain"): ExpectedLink,
}


def _keys_at(path: Sequence[object]) -> list[str]:
    """The keys allowed in the mapping at `path` of a case file, and those one level
    further in (`measure.threshold`), for "did you mean"."""
    model: type[BaseModel] = CaseFile
    for part in path:
        if isinstance(part, int):
            continue
        inner = _INNER.get((model, str(part)))
        if inner is None:
            break
        model = inner
    keys = list(model.model_fields)
    for name in model.model_fields:
        sub = _INNER.get((model, name))
        if sub is not None and sub is not Expectation:
            keys.extend(f"{name}.{k}" for k in sub.model_fields)
    return keys


def _suggest(key: str, keys: Sequence[str]) -> str:
    leaves = {k.rsplit(".", 1)[-1]: k for k in reversed(keys)}
    close = difflib.get_close_matches(key, list(leaves), n=1)
    return f" (did you mean '{leaves[close[0]]}'?)" if close else ""


@dataclass(frozen=True)
class Case:
    """A loaded case: its place, and its events as records ready to evaluate."""

    file: str
    line: int | None
    name: str
    events: list[dict[str, Any]]
    expect: list[Expectation]
    rules: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


# Loading ---------------------------------------------------------------------------------


def load_cases(rulebook_dir: Path, rulebook: Rulebook | None = None) -> list[Case]:
    """Every case in `<rulebook_dir>/tests/*.yaml`; `RuleFileError` listing every problem.

    Event fields are those of the event format, plus the extra columns the rulebook's
    rules read (`extra.<column>`), plus any under an event's `extra:` mapping.
    """
    if rulebook is None:
        rulebook = load_rulebook(rulebook_dir)
    loader = _CaseLoader(rulebook)
    for file in sorted((rulebook_dir / "tests").glob("*")):
        if file.suffix in (".yaml", ".yml") and file.is_file():
            loader.load(file)
    if loader.problems:
        raise RuleFileError(loader.problems)
    return loader.cases


class _CaseLoader:
    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self.rule_ids = [r.id for r in rulebook.rules]
        self.extras = sorted(_extra_columns(rulebook))
        self.cases: list[Case] = []
        self.problems: list[Diagnostic] = []

    def error(self, file: Path, located: Located | None, path: tuple[object, ...],
              message: str, *, key: bool = False) -> None:  # fmt: skip
        pos = located.position(path, key=key) if located else None
        prefix = ""
        if located is not None and len(path) >= 2 and path[0] == "tests":
            raw = _at(located.data, path[:2])
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                prefix = f"case {raw['name']!r}: "
            path = path[2:]
        where = _dotted(path)
        text = f"{prefix}{where}: {message}" if where else f"{prefix}{message}"
        self.problems.append(Diagnostic(str(file), text, *(pos or (1, 1))))

    def load(self, file: Path) -> None:
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                self.error(file, None, (), "case file larger than 16 MiB")
                return
            located = load_located(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            self.error(file, None, (), f"cannot read case file: {e}")
            return
        except YamlProblem as p:
            self.problems.append(Diagnostic(str(file), p.message, p.line or 1, p.column))
            return
        if not isinstance(located.data, dict):
            self.error(file, located, (), "a case file is a mapping holding a 'tests:' list")
            return
        before = len(self.problems)
        try:
            spec = CaseFile.model_validate(located.data)
        except ValidationError as e:
            self.validation(file, located, e)
            spec = None
        raw_cases = located.data.get("tests")
        if isinstance(raw_cases, list):  # events are checked even when the rest is wrong
            for i, raw in enumerate(raw_cases):
                events = raw.get("events") if isinstance(raw, dict) else None
                if isinstance(events, list):
                    self.events(file, located, i, events)
        if spec is None or len(self.problems) > before:
            return
        for i, case in enumerate(spec.tests):
            self.check_case(file, located, i, case)
        if len(self.problems) > before:
            return
        for i, case in enumerate(spec.tests):
            pos = located.position(("tests", i))
            self.cases.append(
                Case(
                    file=str(file),
                    line=pos[0] if pos else None,
                    name=case.name,
                    events=[_record(e) for e in case.events],
                    expect=list(case.expect),
                    rules=tuple(case.rules),
                    kinds=tuple(case.kinds),
                )
            )

    def validation(self, file: Path, located: Located, error: ValidationError) -> None:
        for item in error.errors():
            path = tuple(item["loc"])
            if len(path) >= 4 and path[2] == "events" and item["type"] != "list_type":
                continue  # an event's own fields are checked by `events`
            kind = item["type"]
            if kind == "extra_forbidden":
                hint = _suggest(str(path[-1]), _keys_at(path[:-1]))
                self.error(file, located, path, f"unknown key{hint}", key=True)
            elif kind == "missing":
                self.error(file, located, path[:-1], f"missing required key '{path[-1]}'")
            else:
                message = item["msg"][:1].lower() + item["msg"][1:]
                got = item.get("input")
                shown = "" if isinstance(got, dict | list) else f" (got {_show(got)})"
                self.error(file, located, path, message + shown)

    def events(self, file: Path, located: Located, i: int, events: list[Any]) -> None:
        known = [*FIELDS, *self.extras]
        for j, event in enumerate(events):
            at = ("tests", i, "events", j)
            if not isinstance(event, dict):
                self.error(
                    file, located, at, f"an event is a mapping of fields (got {_show(event)})"
                )
                continue
            for key in event:
                if key == "extra":
                    if not isinstance(event["extra"], dict):
                        self.error(file, located, (*at, key), "extra is a mapping of columns")
                elif key not in known:
                    hint = _hint(str(key), known) or (
                        " (an event has the fields of the event format and the extra "
                        "columns the rules read; put any other column under extra:)"
                    )
                    self.error(file, located, (*at, key), f"unknown event field{hint}", key=True)
            if any(k != "extra" and k not in known for k in event):
                continue
            if isinstance(event.get("extra"), dict):
                clash = sorted(set(event["extra"]) & set(event))
                if clash:
                    self.error(file, located, (*at, "extra", clash[0]),
                               "is given twice, in extra and as a field", key=True)  # fmt: skip
                    continue
            result = parse_shipment(_record(event))
            if isinstance(result, list):
                for problem in result:
                    where: tuple[object, ...] = (*at, problem.field)
                    if problem.field not in event and isinstance(event.get("extra"), dict):
                        where = (*at, "extra", problem.field)
                    self.error(file, located, where, str(problem).split(": ", 1)[1])

    def check_case(self, file: Path, located: Located, i: int, case: CaseSpec) -> None:
        at = ("tests", i)
        for k, rule_id in enumerate(case.rules):
            if rule_id not in self.rule_ids:
                hint = _hint(rule_id, self.rule_ids)
                self.error(file, located, (*at, "rules", k), f"no rule {rule_id!r}{hint}")
        for k, expected in enumerate(case.expect):
            where = (*at, "expect", k)
            if expected.rule is not None:
                if expected.rule not in self.rule_ids:
                    hint = _hint(expected.rule, self.rule_ids)
                    self.error(file, located, (*where, "rule"), f"no rule {expected.rule!r}{hint}")
                elif case.rules and expected.rule not in case.rules:
                    self.error(file, located, (*where, "rule"),
                               f"{expected.rule!r} is not among the case's rules, so no "
                               "finding of it is compared")  # fmt: skip
            if case.kinds and expected.kind is not None and expected.kind not in case.kinds:
                self.error(file, located, (*where, "kind"),
                           f"{expected.kind!r} is not among the case's kinds, so no finding "
                           "of it is compared")  # fmt: skip
        ids = [e.get("id") for e in case.events]
        for k, expected in enumerate(case.expect):
            if (
                expected.trigger is not None
                and expected.trigger not in {str(x) for x in ids}
                and not expected.trigger.startswith("inferred:")  # a correlation's event
            ):
                self.error(file, located, (*at, "expect", k, "trigger"),
                           f"no event of this case has id {expected.trigger!r}")  # fmt: skip


def _extra_columns(rulebook: Rulebook) -> set[str]:
    """The extra columns (`extra.<column>`) the rules read."""
    read: set[str] = set()
    for rule in rulebook.rules:
        read |= fields_of(rule.match)
        if rule.unless is not None:
            read |= fields_of(rule.unless)
        if isinstance(rule, DesignationRule):
            read |= set(rule.fields)
        read |= set(getattr(rule, "group_by", ()))
    return {f.removeprefix("extra.") for f in read if f.startswith("extra.")}


def _record(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a raw record: `extra:` columns beside the fields, values as text
    where YAML made them numbers or dates, as a CSV or JSON reader would give them."""
    out = {k: v for k, v in event.items() if k != "extra"}
    extra = event.get("extra")
    if isinstance(extra, dict):
        out.update(extra)
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in out.items()}


def _at(data: Any, path: Sequence[object]) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _dotted(path: Iterable[object]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _hint(word: str, vocabulary: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, vocabulary, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# Running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A field of an expectation and what the closest finding has there."""

    field: str
    expected: Any
    got: Any

    def __str__(self) -> str:
        return f"{self.field}: expected {_text(self.expected)}, got {_text(self.got)}"


@dataclass(frozen=True)
class Miss:
    """An expected finding no finding matched, against the closest one (if any)."""

    expected: Expectation
    closest: Finding | None
    differences: tuple[Difference, ...]


@dataclass
class Outcome:
    case: Case
    passed: bool
    missing: list[Miss] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)  # neither matched nor closest
    rejected: list[str] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)  # rules with a compared finding
    silent: set[str] = field(default_factory=set)  # rules listed with none

    @property
    def problems(self) -> list[str]:
        """The failure, as lines for people."""
        out = [f"rejected event {r}" for r in self.rejected]
        for miss in self.missing:
            out.append(f"expected {_brief_expectation(miss.expected)}")
            if miss.closest is None:
                out.append("  but no finding is left to compare it with")
            else:
                out.append(f"  the closest finding ({_brief_finding(miss.closest)}) differs:")
                out.extend(f"    {d}" for d in miss.differences)
        out.extend(f"unexpected finding {_brief_finding(f)}: {f.message}" for f in self.unexpected)
        return out


def _compared(expected: Expectation, finding: Finding) -> list[Difference]:
    """The fields `expected` names on which `finding` differs."""
    out: list[Difference] = []
    for name in sorted(expected.model_fields_set, key=list(Expectation.model_fields).index):
        want, got = getattr(expected, name), getattr(finding, name)
        if isinstance(want, BaseModel) and isinstance(got, BaseModel):
            for sub in want.model_fields_set:
                w, g = getattr(want, sub), getattr(got, sub, None)
                if w != g:
                    out.append(Difference(f"{name}.{sub}", w, g))
        elif isinstance(want, BaseModel):
            out.append(Difference(name, want, got))
        elif name == "chain":  # each link by the keys it names
            links = got or []
            if len(want) != len(links) or any(
                getattr(w, k) != getattr(g, k)
                for w, g in zip(want, links, strict=True)
                for k in w.model_fields_set
            ):
                out.append(Difference(name, want, got))
        elif isinstance(want, dict):  # `match`, `group`, `price`: the keys named
            for key, w in want.items():
                g = got.get(key) if isinstance(got, dict) else None
                if w != g:
                    out.append(Difference(f"{name}.{key}", w, g))
        elif want != got:
            out.append(Difference(name, want, got))
    return out


def _assign(expect: list[Expectation], actual: list[Finding]) -> dict[int, int]:
    """A largest matching of expectations to findings they match (each used once)."""
    fits = [[j for j, f in enumerate(actual) if not _compared(e, f)] for e in expect]
    owner: dict[int, int] = {}  # finding -> expectation

    def place(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or place(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(expect)):
        place(i, set())
    return {i: j for j, i in owner.items()}


def run_case(case: Case, rulebook: Rulebook, engine: Engine | None = None) -> Outcome:
    """Evaluate the case's events; compare the selected findings with `expect`."""
    from compliance.api import evaluate, preferred_engine

    report = evaluate(case.events, rulebook, engine=engine or preferred_engine(rulebook))
    selected = set(case.rules) or {r.id for r in rulebook.rules}
    actual = [
        f
        for f in report.findings
        if f.rule in selected and (not case.kinds or f.kind in case.kinds)
    ]
    matched = _assign(case.expect, actual)
    left = [f for j, f in enumerate(actual) if j not in matched.values()]
    missing = []
    for i, expected in enumerate(case.expect):
        if i in matched:
            continue
        # Each finding is shown once: as the closest to one miss, or as unexpected.
        ranked = sorted(left, key=lambda f: (len(_compared(expected, f)), f.sort_key()))
        closest = ranked[0] if ranked else None
        if closest is not None:
            left.remove(closest)
        differences = tuple(_compared(expected, closest)) if closest else ()
        missing.append(Miss(expected, closest, differences))
    rejected = [f"{r.location()}: {'; '.join(r.reasons)}" for r in report.rejected]
    fired = {f.rule for f in actual}
    return Outcome(
        case,
        not (missing or left or rejected),
        missing,
        left,
        rejected,
        fired,
        set(case.rules) - fired,
    )


def run_cases(rulebook_dir: Path, engine: Engine | None = None) -> tuple[Rulebook, list[Outcome]]:
    rulebook = load_rulebook(rulebook_dir)
    return rulebook, [run_case(c, rulebook, engine) for c in load_cases(rulebook_dir, rulebook)]


@dataclass(frozen=True)
class Coverage:
    percent: float
    not_shown_firing: list[str]  # by any passing case
    not_shown_silent: list[str]
    fires_only_in_failing: list[str]  # of not_shown_firing: rules failing cases show firing


def coverage(rulebook: Rulebook, outcomes: list[Outcome]) -> Coverage:
    """Rules shown firing and shown silent by *passing* cases."""
    passing = [o for o in outcomes if o.passed]
    fired = set().union(*(o.fired for o in passing))
    silent = set().union(*(o.silent for o in passing))
    failing_fired = set().union(*(o.fired for o in outcomes if not o.passed))
    ids = [r.id for r in rulebook.rules]
    covered = sum(1 for i in ids if i in fired and i in silent)
    not_firing = [i for i in ids if i not in fired]
    return Coverage(
        100.0 * covered / len(ids) if ids else 100.0,
        not_firing,
        [i for i in ids if i not in silent],
        [i for i in not_firing if i in failing_fired],
    )


# The command -----------------------------------------------------------------------------

RULE_LINE = "-" * 72


def run_command(
    path: Path | None,
    *,
    min_coverage: float | None = None,
    fmt: str = "table",
    engine: Engine | None = None,
) -> int:
    """`compliance test [PATH]`: 0 all pass (and coverage met), 1 otherwise, 2 bad files."""
    from compliance.api import preferred_engine

    root = path or bundled_rulebook_path()
    if not root.exists() and str(root) in BUNDLED:
        root = bundled_rulebook_path(str(root))
    if root.is_file():
        root = root.parent
    rulebook, outcomes = run_cases(root, engine)
    # The stream engine, or the columnar one where the rulebook's correlation rules need
    # a durable_rules that does not import here.
    engine = engine or preferred_engine(rulebook)
    cov = coverage(rulebook, outcomes)
    passed = sum(o.passed for o in outcomes)
    failed = len(outcomes) - passed
    below = min_coverage is not None and cov.percent < min_coverage
    empty = f"no test cases: {root / 'tests'} holds no *.yaml file with cases"
    if fmt == "json":
        print(json.dumps(_json(outcomes, cov, rulebook, engine, empty), indent=2, default=str))
    elif not outcomes:
        print(empty, file=sys.stderr)
    else:
        _table(outcomes, cov, rulebook, passed, failed)
    sys.stdout.flush()
    if below:
        print(f"coverage {cov.percent:.1f}% is below --min-coverage {min_coverage:g}%",
              file=sys.stderr)  # fmt: skip
    return 1 if failed or not outcomes or below else 0


def _table(outcomes: list[Outcome], cov: Coverage, rulebook: Rulebook, passed: int,
           failed: int) -> None:  # fmt: skip
    for o in sorted(outcomes, key=lambda o: o.passed):  # failures first, each in file order
        print(f"{'PASS' if o.passed else 'FAIL'}  {o.case.where}: {o.case.name}")
        for line in o.problems:
            print(f"      {line}")
    print(RULE_LINE)
    if passed:
        print(f"PASS: {passed}/{len(outcomes)}")
    if failed:
        print(f"FAIL: {failed}/{len(outcomes)}")
    print(f"Coverage: {cov.percent:.1f}% of {len(rulebook)} rules shown both firing and silent "
          "by passing cases")  # fmt: skip
    for rule_id in cov.not_shown_firing:
        why = " (only failing cases show it firing)" if rule_id in cov.fires_only_in_failing else ""
        print(f"  not shown firing by a passing case: {rule_id}{why}")
    for rule_id in cov.not_shown_silent:
        print(f"  not shown silent by a passing case: {rule_id}")


def _json(outcomes: list[Outcome], cov: Coverage, rulebook: Rulebook, engine: str,
          empty: str) -> dict[str, Any]:  # fmt: skip
    passed = sum(o.passed for o in outcomes)
    return {
        "engine": engine,
        "cases": [
            {
                "file": o.case.file,
                "line": o.case.line,
                "name": o.case.name,
                "passed": o.passed,
                "problems": o.problems,
                "missing": [
                    {
                        "expected": m.expected.model_dump(mode="json", exclude_unset=True),
                        "closest": m.closest.to_dict() if m.closest else None,
                        "differences": [
                            {"field": d.field, "expected": _plain(d.expected), "got": _plain(d.got)}
                            for d in m.differences
                        ],
                    }
                    for m in o.missing
                ],
                "unexpected": [f.to_dict() for f in o.unexpected],
                "rejected": o.rejected,
            }
            for o in sorted(outcomes, key=lambda o: o.passed)
        ],
        "passed": passed,
        "failed": len(outcomes) - passed,
        "total": len(outcomes),
        "message": None if outcomes else empty,
        "coverage": round(cov.percent, 1),
        "rules": len(rulebook),
        "not_shown_firing": cov.not_shown_firing,
        "not_shown_silent": cov.not_shown_silent,
        "fires_only_in_failing_cases": cov.fires_only_in_failing,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _text(value: Any) -> str:
    plain = _plain(value)
    return json.dumps(plain, default=str) if not isinstance(plain, str) else repr(plain)


def _brief_expectation(e: Expectation) -> str:
    return json.dumps(e.model_dump(mode="json", exclude_unset=True), default=str)


def _brief_finding(f: Finding) -> str:
    return f"{f.rule} {f.kind}, trigger {f.trigger}, {f.date}"
