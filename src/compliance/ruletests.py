"""Rule test cases beside the rules (`<rulebook>/tests/*.yaml`) and rule coverage.

    tests:
      - name: refined cap, one barrel over
        rules: [unscr-2397-refined-petroleum]   # findings of these rules are compared
        events:
          - {id: a, date: 2019-03-01, hs_code: "2710", destination: KP,
             quantity: 500001, unit: bbl}
        expect:                                 # every finding, each by the fields given
          - {rule: unscr-2397-refined-petroleum, kind: cap_exceeded, trigger: a}

`expect` lists every finding of the selected rules (threshold notices included unless
`kinds:` narrows the comparison); each expected entry names only the fields it checks.
A rule is covered when some case shows it firing and some case shows it silent.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.errors import Diagnostic, RuleFileError
from compliance.rulebook._yaml import YamlProblem, load_located
from compliance.rulebook.load import BUNDLED, bundled_rulebook_path, load_rulebook
from compliance.rulebook.rulebook import Rulebook

__all__ = ["Case", "Outcome", "load_cases", "run_cases", "run_command"]


@dataclass(frozen=True)
class Case:
    """One test case: events in, the expected findings of some rules out."""

    file: str
    line: int | None
    name: str
    events: list[dict[str, Any]]
    expect: list[dict[str, Any]]
    rules: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Outcome:
    case: Case
    passed: bool
    problems: list[str] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)


_CASE_KEYS = {"name", "events", "expect", "rules", "kinds", "description"}


def load_cases(rulebook_dir: Path) -> list[Case]:
    """Every case in `<rulebook_dir>/tests/*.yaml`; `RuleFileError` on malformed files."""
    cases: list[Case] = []
    problems: list[Diagnostic] = []
    for file in sorted((rulebook_dir / "tests").glob("*.y*ml")):
        try:
            located = load_located(file.read_text(encoding="utf-8"))
        except YamlProblem as p:
            problems.append(Diagnostic(str(file), p.message, p.line, p.column))
            continue
        data = located.data
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            problems.append(Diagnostic(str(file), "a test file holds a 'tests:' list", 1, 1))
            continue
        for i, raw in enumerate(data["tests"]):
            pos = located.position(("tests", i))
            line = pos[0] if pos else None
            if not isinstance(raw, dict) or "name" not in raw or "events" not in raw:
                problems.append(Diagnostic(str(file), "a case needs name and events", line))
                continue
            unknown = sorted(set(raw) - _CASE_KEYS)
            if unknown:
                problems.append(
                    Diagnostic(
                        str(file), f"unknown key {unknown[0]!r} in case {raw['name']!r}", line
                    )
                )
                continue
            cases.append(
                Case(
                    file=str(file),
                    line=line,
                    name=str(raw["name"]),
                    events=list(raw["events"] or []),
                    expect=list(raw.get("expect") or []),
                    rules=tuple(raw.get("rules") or ()),
                    kinds=tuple(raw.get("kinds") or ()),
                )
            )
    if problems:
        raise RuleFileError(problems)
    return cases


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or expected is None:
        return bool(expected == actual)
    return str(expected) == str(actual)


def run_case(case: Case, rulebook: Rulebook) -> Outcome:
    from compliance.api import evaluate

    for rule_id in case.rules:
        try:
            rulebook.get(rule_id)
        except KeyError as e:
            return Outcome(case, False, [str(e).strip('"')])
    report = evaluate(case.events, rulebook, engine="stream")
    selected = set(case.rules) or {r.id for r in rulebook.rules}
    actual = [
        f.to_dict()
        for f in report.findings
        if f.rule in selected and (not case.kinds or f.kind in case.kinds)
    ]
    problems = [f"rejected event {r.location()}: {'; '.join(r.reasons)}" for r in report.rejected]
    unmatched = list(actual)
    for expected in case.expect:
        hit = next((a for a in unmatched if _matches(expected, a)), None)
        if hit is None:
            problems.append(f"expected a finding {json.dumps(expected, default=str)}")
        else:
            unmatched.remove(hit)
    for extra in unmatched:
        problems.append(
            f"unexpected finding {extra['rule']} {extra['kind']} (trigger {extra['trigger']}, "
            f"{extra['date']}): {extra['message']}"
        )
    fired = {f["rule"] for f in actual}
    silent = set(case.rules) - fired if case.rules else set()
    return Outcome(
        case,
        not problems,
        problems,
        fired if not problems else set(),
        silent if not problems else set(),
    )


def run_cases(rulebook_dir: Path) -> tuple[Rulebook, list[Outcome]]:
    rulebook = load_rulebook(rulebook_dir)
    return rulebook, [run_case(c, rulebook) for c in load_cases(rulebook_dir)]


def coverage(rulebook: Rulebook, outcomes: list[Outcome]) -> tuple[float, list[str], list[str]]:
    """(percent covered, rules never fired, rules never shown silent)."""
    fired = set().union(*(o.fired for o in outcomes)) if outcomes else set()
    silent = set().union(*(o.silent for o in outcomes)) if outcomes else set()
    ids = [r.id for r in rulebook.rules]
    never_fired = [i for i in ids if i not in fired]
    never_silent = [i for i in ids if i not in silent]
    covered = sum(1 for i in ids if i in fired and i in silent)
    return (100.0 * covered / len(ids) if ids else 100.0), never_fired, never_silent


def run_command(path: Path | None, *, min_coverage: float | None = None, fmt: str = "table") -> int:
    """`compliance test [PATH]`: 0 all pass (and coverage met), 1 otherwise, 2 bad files."""
    root = path or bundled_rulebook_path()
    if not root.exists() and str(root) in BUNDLED:
        root = bundled_rulebook_path(str(root))
    if root.is_file():
        root = root.parent
    rulebook, outcomes = run_cases(root)
    percent, never_fired, never_silent = coverage(rulebook, outcomes)
    passed = sum(o.passed for o in outcomes)
    if fmt == "json":
        print(
            json.dumps(
                {
                    "cases": [
                        {
                            "file": o.case.file,
                            "line": o.case.line,
                            "name": o.case.name,
                            "passed": o.passed,
                            "problems": o.problems,
                        }
                        for o in outcomes
                    ],
                    "passed": passed,
                    "total": len(outcomes),
                    "coverage": round(percent, 1),
                    "never_fired": never_fired,
                    "never_silent": never_silent,
                },
                indent=2,
            )
        )
    else:
        for o in sorted(outcomes, key=lambda o: o.passed):
            print(f"{'PASS' if o.passed else 'FAIL'}  {o.case.where}: {o.case.name}")
            for p in o.problems:
                print(f"      {p}")
        print("-" * 72)
        print(f"{'PASS' if passed == len(outcomes) else 'FAIL'}: {passed}/{len(outcomes)}")
        print(f"Coverage: {percent:.1f}% of {len(rulebook)} rules shown both firing and silent")
        for rule_id in never_fired:
            print(f"  never fires in any case: {rule_id}")
        for rule_id in never_silent:
            print(f"  never shown silent:      {rule_id}")
    sys.stdout.flush()
    if passed != len(outcomes) or not outcomes:
        return 1
    if min_coverage is not None and percent < min_coverage:
        print(f"coverage {percent:.1f}% is below --min-coverage {min_coverage:g}%", file=sys.stderr)
        return 1
    return 0
