"""Rule files → `Rulebook`, with every problem reported as `file:line:col: rule X: …`."""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from compliance.errors import Diagnostic, RuleFileError
from compliance.rulebook import schema
from compliance.rulebook._yaml import Located, YamlProblem, load_located
from compliance.rulebook.correlation import correlation_problems, unknown_field
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.selectors import parse_selector
from compliance.rulebook.vessels import entries_from_csv

__all__ = [
    "BUNDLED",
    "KNOWN_PRODUCTS",
    "MAX_FILE_BYTES",
    "bundled_rulebook_path",
    "load_rulebook",
]

KNOWN_PRODUCTS = frozenset(
    {
        "crude",
        "condensate",
        "gasoline",
        "naphtha",
        "kerosene",
        "jet_fuel",
        "diesel",
        "fuel_oil",
        "lpg",
        "ngl",
        "lubricants",
        "bitumen",
    }
)
MAX_FILE_BYTES = 16 * 1024 * 1024
_KEY_VOCABULARY = sorted(
    {
        (f.alias or name)
        for model in (
            schema.CapRule,
            schema.ProhibitionRule,
            schema.DeadlineRule,
            schema.DesignationRule,
            schema.UnnotifiedRule,
            schema.CorrelationRule,
            schema.CorrelationStep,
            schema.StepWindow,
            schema.Inferred,
            schema.RuleFile,
            schema.Document,
            schema.Effective,
            schema.Measure,
            schema.Threshold,
            schema.CalendarPeriod,
            schema.MonthsPeriod,
            schema.RollingPeriod,
            schema.FixedPeriod,
            schema.ConversionFactor,
            schema.FactorValue,
            schema.HsProduct,
            schema.DesignationEntry,
            schema.Within,
            schema.PriceCapRule,
            schema.PriceLevel,
            schema.WindDown,
            schema.SafeHarbour,
            schema.ByDay,
        )
        for name, f in model.model_fields.items()
    }
)


BUNDLED = ("dprk", "price-cap")
"""Rulebooks shipped in the wheel, by the name `--rules` accepts."""


def bundled_rulebook_path(name: str = "dprk") -> Path:
    """A rulebook shipped in the wheel (or `rules/NAME` in a source checkout)."""
    packaged = Path(str(resources.files("compliance"))) / "_rules" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "rules" / name


def _resolve(path: str | Path) -> tuple[Path, str]:
    """A path, or a bundled rulebook's name when no such path exists; with its label."""
    if str(path) in BUNDLED and not Path(path).exists():
        return bundled_rulebook_path(str(path)), f"rules/{path} (bundled)"
    return Path(path), str(path)


def load_rulebook(*paths: str | Path) -> Rulebook:
    """Load rule files; with no path, the bundled DPRK rulebook.

    >>> rulebook = load_rulebook("rules/dprk")      # doctest: +SKIP

    Args:
        paths: directories (every `*.yaml`/`*.yml` directly inside), single files, or
            names of bundled rulebooks (`dprk`, `price-cap`); several evaluate together.

    Raises:
        RuleFileError: listing every problem, each with its file, line and column.
    """
    roots = [_resolve(p) for p in paths] or [(bundled_rulebook_path(), "rules/dprk (bundled)")]
    loader = _Loader()
    for root, _ in roots:
        loader.load_root(root)
    return loader.finish([label for _, label in roots])


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.rules: list[Any] = []
        self.documents: dict[str, schema.Document] = {}
        self.factors: dict[str, schema.ConversionFactor] = {}
        self.hs_products: list[schema.HsProduct] = []
        self.rule_origin: dict[str, str] = {}
        self.pending_products: list[tuple[schema.HsProduct, Diagnostic]] = []

    def error(self, path: str, message: str, pos: tuple[int, int] | None = None) -> None:
        line, col = pos if pos else (None, None)
        self.diagnostics.append(Diagnostic(path, message, line, col))

    def load_root(self, root: Path) -> None:
        if root.is_dir():
            files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
            if not files:
                self.error(str(root), "no rule files (*.yaml) in this directory")
            for file in files:
                self.load_file(file, root)
        elif root.exists():
            # A file named on its own is read wherever a symlink points: the user chose it.
            self.load_file(root, root.parent, named=True)
        else:
            self.error(str(root), "no such file or directory")

    def read_text(self, file: Path, root: Path | None) -> str | None:
        """The text of a rule or designation file, or None with the error recorded.

        Only a regular file is read, and (unless `root` is None) only one that is inside
        `root` once symlinks are resolved: a link to /etc/passwd, /dev/zero or a FIFO is
        refused, never opened for reading until it ends or blocks. The type is checked on
        the open descriptor (non-blocking, so a FIFO cannot hang the open), and at most
        MAX_FILE_BYTES are read whatever the size claims.
        """
        name = str(file)
        if root is not None and not file.resolve().is_relative_to(root.resolve()):
            self.error(name, f"links outside the rulebook ({root}); only files inside it are read")
            return None
        try:
            fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            self.error(name, f"cannot read rule file: {e.strerror or e}")
            return None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self.error(name, "not a regular file; only regular files are read")
                return None
            try:
                data = handle.read(MAX_FILE_BYTES + 1)
            except OSError as e:
                self.error(name, f"cannot read rule file: {e.strerror or e}")
                return None
        if len(data) > MAX_FILE_BYTES:
            self.error(name, "rule file larger than 16 MiB")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
            self.error(name, f"not valid UTF-8: byte 0x{data[e.start]:02x}", (line, column))
            return None

    def read(self, file: Path, root: Path | None) -> Located | None:
        text = self.read_text(file, root)
        if text is None:
            return None
        try:
            return load_located(text)
        except YamlProblem as p:
            pos = (p.line, p.column) if p.line is not None and p.column is not None else None
            self.error(str(file), p.message, pos)
            return None

    def load_file(self, file: Path, root: Path, *, named: bool = False) -> None:
        located = self.read(file, None if named else root)
        if located is None:
            return
        data = located.data
        name = str(file)
        if data is None:
            return
        if not isinstance(data, dict):
            self.error(
                name,
                "a rule file is a mapping with document, rules, conversions",
                located.position(()),
            )
            return
        self.check_selectors(name, located)
        try:
            parsed = schema.RuleFile.model_validate(data)
        except ValidationError as e:
            self.report_validation(name, located, e)
            return
        for index, rule in enumerate(parsed.rules):
            self.add_rule(name, located, index, rule, file.parent, root)
        for index, conversion in enumerate(parsed.conversions):
            pos = located.position(("conversions", index))
            if isinstance(conversion, schema.ConversionFactor):
                if conversion.product in self.factors:
                    self.error(
                        name, f"conversions: a second factor for {conversion.product!r}", pos
                    )
                self.factors[conversion.product] = conversion
            else:
                self.hs_products.append(conversion)
                self.pending_products.append(
                    (conversion, Diagnostic(name, "", *(pos or (None, None))))
                )

    def check_selectors(self, name: str, located: Located) -> None:
        rules = located.data.get("rules")
        if not isinstance(rules, list):
            return
        for index, raw in enumerate(rules):
            if not isinstance(raw, dict):
                continue
            places: list[tuple[dict[Any, Any], tuple[object, ...]]] = [(raw, ())]
            steps = raw.get("steps")
            if raw.get("kind") == "correlation" and isinstance(steps, list):
                places += [(s, ("steps", j)) for j, s in enumerate(steps) if isinstance(s, dict)]
            for holder, prefix in places:
                for key in ("match", "unless", "notifications"):
                    if key in holder and holder[key] is not None:

                        def report(path: tuple[object, ...], message: str, i: int = index) -> None:
                            # An unknown name is pointed at where the name is written.
                            at_key = message.startswith(("unknown field", "unknown operator"))
                            self.error_at(name, located, ("rules", i, *path), message, key=at_key)

                        parse_selector(holder[key], (*prefix, key), report)

    def error_at(
        self,
        name: str,
        located: Located,
        path: tuple[object, ...],
        message: str,
        *,
        key: bool = False,
    ) -> None:
        rule_id = None
        if len(path) >= 2 and path[0] == "rules":
            rules = located.data.get("rules") if isinstance(located.data, dict) else None
            if isinstance(rules, list) and isinstance(path[1], int) and path[1] < len(rules):
                raw = rules[path[1]]
                rule_id = raw.get("id") if isinstance(raw, dict) else None
            inner = path[2:]
        else:
            inner = path
        where = ".".join(str(p) for p in inner)
        prefix = f"rule {rule_id}: " if rule_id else ""
        text = f"{prefix}{where}: {message}" if where else f"{prefix}{message}"
        self.error(name, text, located.position(path, key=key))

    def report_validation(self, name: str, located: Located, error: ValidationError) -> None:
        for item in error.errors():
            path = _data_path(located.data, item["loc"])
            if (
                path[-1:] in (("match",), ("unless",), ("notifications",))
                and item["type"] != "missing"
            ):
                continue  # check_selectors reported it, with the exact line and column
            kind = item["type"]
            if kind == "extra_forbidden":
                key = str(path[-1])
                hint = difflib.get_close_matches(key, _KEY_VOCABULARY, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.error_at(name, located, path, f"unknown key{suggestion}", key=True)
            elif kind == "missing":
                self.error_at(name, located, path[:-1], f"missing required key '{path[-1]}'")
            else:
                message = item["msg"].removeprefix("Value error, ")
                message = message[:1].lower() + message[1:]
                if kind not in ("value_error", "period", "conversion", "union_tag_invalid"):
                    message += f" (got {_show(item.get('input'))})"
                self.error_at(name, located, path, message)

    def add_rule(
        self, name: str, located: Located, index: int, rule: Any, folder: Path, root: Path
    ) -> None:
        path = ("rules", index)
        if rule.id in self.rule_origin:
            self.error_at(
                name,
                located,
                (*path, "id"),
                f"duplicate rule id (first defined in {self.rule_origin[rule.id]})",
            )
            return
        pos = located.position((*path, "id"))
        self.rule_origin[rule.id] = f"{name}:{pos[0]}" if pos else name
        fields = [
            *getattr(rule, "group_by", []),
            *getattr(rule, "fields", []),
            *getattr(rule, "name_fields", []),
        ]
        if getattr(rule, "associate", None):
            fields.append(rule.associate)
        for f in fields:
            if (problem := unknown_field(f)) is not None:
                self.error_at(name, located, path, problem)
        if isinstance(rule, schema.CorrelationRule):
            for where, message, at_key in correlation_problems(rule):
                self.error_at(name, located, (*path, *where), message, key=at_key)
        if isinstance(rule, schema.DesignationRule) and isinstance(
            rule.designations, schema.DesignationFile
        ):
            entries = self.designation_file(
                name, located, path, rule.designations.file, folder, root
            )
            rule = rule.model_copy(update={"designations": entries})
        document = located.data.get("document")
        if isinstance(document, dict):
            self.documents[rule.id] = schema.Document.model_validate(document)
        self.rules.append(rule)

    def designation_file(
        self,
        name: str,
        located: Located,
        path: tuple[object, ...],
        ref: str,
        folder: Path,
        root: Path,
    ) -> list[schema.DesignationEntry]:
        where = (*path, "designations", "file")
        target = (folder / ref).resolve()
        if Path(ref).is_absolute() or not target.is_relative_to(root.resolve()):
            self.error_at(
                name,
                located,
                where,
                f"{ref!r} is outside the rulebook; designation files must be inside it",
            )
            return []
        if not target.is_file():
            self.error_at(name, located, where, f"no such file {ref!r} in the rulebook")
            return []
        if target.suffix == ".csv":
            return self.designation_csv(target, root)
        sub = self.read(target, root)
        if sub is None:
            return []
        data = sub.data
        if not isinstance(data, dict) or not isinstance(data.get("designations"), list):
            self.error(
                str(target), "a designation file holds a 'designations:' list", sub.position(())
            )
            return []
        try:
            return (
                schema.RuleFile.model_validate({"designations": data["designations"]}).designations
                or []
            )
        except ValidationError as e:
            self.report_validation(str(target), sub, e)
            return []

    def designation_csv(self, target: Path, root: Path) -> list[schema.DesignationEntry]:
        text = self.read_text(target, root)
        if text is None:
            return []
        entries, problems = entries_from_csv(text, str(target))
        self.diagnostics.extend(problems)
        return entries

    def finish(self, sources: Iterable[str]) -> Rulebook:
        known = KNOWN_PRODUCTS | set(self.factors)
        for mapping, where in self.pending_products:
            if mapping.product not in known:
                hint = difflib.get_close_matches(mapping.product, sorted(known), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.diagnostics.append(
                    Diagnostic(
                        where.path,
                        f"conversions: unknown product {mapping.product!r}{suggestion}",
                        where.line,
                        where.column,
                    )
                )
        if self.diagnostics:
            raise RuleFileError(self.diagnostics)
        return Rulebook(
            rules=tuple(self.rules),
            sources=tuple(sources),
            documents=self.documents,
            factors=self.factors,
            hs_products=tuple(self.hs_products),
        )


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[object, ...]:
    """Pydantic's error location minus union tags (`cap`, `calendar`, …) not in the data."""
    path: list[object] = []
    node = data
    for i, part in enumerate(loc):
        if part in _TAGS and (i + 1 < len(loc) and loc[i + 1] == part):
            continue
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            path.append(part)
            node = node[part]  # type: ignore[index]
        elif isinstance(node, dict) and (key := _repr_key(node, part)) is not None:
            path.append(key)  # a date key (`values: {2022-12-05: …}`), named by its repr
            node = node[key]
        elif isinstance(node, dict) and isinstance(part, str) and part in ("from_",):
            path.append("from")
            node = node.get("from")
        elif isinstance(node, dict | list) and part in _TAGS:
            continue
        else:
            path.append(part)
            node = None
    return tuple(path)


_TAGS = frozenset(
    {
        "cap",
        "prohibition",
        "deadline",
        "designation",
        "price_cap",
        "unnotified",
        "correlation",
        "calendar",
        "months",
        "days",
        "fixed",
        "factor",
        "hs",
        "list[DesignationEntry]",
        "DesignationFile",
        "function-after[_ordered(), FixedPeriod]",
    }
)


def _repr_key(node: dict[Any, Any], part: object) -> Any:
    return next((k for k in node if not isinstance(k, str) and repr(k) == part), None)


def _show(value: object) -> str:
    if isinstance(value, BaseModel | dict | list):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
