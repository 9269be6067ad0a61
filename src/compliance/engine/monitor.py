"""`Monitor`: a live feed evaluated as it arrives, its announcements always the truth.

After every `feed`, the findings announced and not withdrawn are exactly the findings of
`evaluate()` on every event fed so far. A feed returns what changed: the findings that
became true, those that stopped being true (`Changes.withdrawn`: a correction that removes
a breach, a late event that moves a trigger, a duplicate that turns out to conflict) and
the records rejected. Correlation rules run on durable_rules (`durable_correlation`):
an inferred event enters and leaves like an accepted one, with its `inferred` notice.

How it stays cheap: the ledger reports which events became or stopped being accepted; each
rule keeps its accepted events in *buckets* — an event for per-event rules, a (group,
period) for calendar caps, a group for rolling caps — and only the buckets an event
touches are evaluated again, by the shared findings code, so a monitor and a batch
evaluation cannot disagree. A rolling cap's findings on a day depend only on the events of
the `days` before it, so a change on day d is evaluated again over [d - days, d + days]
only. A cap bucket keeps each member's amounts and own findings (unconvertible,
unquantified) and its exact totals: while events only arrive and the totals stay below
the lowest threshold, nothing but the new members' own findings can change, and the
period is not evaluated again.

How it stays small: the ledger is compact (per id a slot in flat arrays: a digest of the
record's content and where it was read) and holds the shipments of the events that reach
some rule only; the others cannot change a finding, now or after a correction.
durable_rules holds the facts of correlation steps behind a watermark (the latest step
event's date less a chain's span) no longer: a late event is joined with facts asserted
again from the shipments kept (`DurableCorrelator.add`).

With an allowed `lateness` L it stops growing but for the per-id entries (the model of
Flink and Beam): the *horizon* H is the latest date fed (today at the latest) less L,
and only moves on. A
record dated before H is refused (rejected, with why) unless it is a copy of a record
known; so is one that would change the outcome of a record dated before H (a correction
of it, a copy of its id with other content). Every change then happens on or after
H less a chain's span (an inference is dated from its chain's first event), so what no
change on or after that day can need is let go, through a heap of (last day needed,
event): shipments (the ledger keeps the id's entry), rolling-cap members older than the
window, fixed periods that ended (their findings kept, frozen), per-event buckets,
correlation step events. What is announced is then `evaluate()` of the records not
refused.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import operator
import threading
from collections.abc import Hashable, Iterable, Mapping
from datetime import date, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

from compliance.engine.durable_correlation import DurableCorrelator
from compliance.engine.findings import (
    Amounts,
    PeriodTally,
    cap_amounts,
    cap_event_findings,
    cap_rolling_findings,
    findings_for_rule,
    inference_finding,
    sort_findings,
    span_of,
)
from compliance.engine.stream import plain_rules
from compliance.events import Shipment
from compliance.io.readers import readable
from compliance.ledger import Ledger, RawRecord, validate
from compliance.periods import Span
from compliance.report import Finding, Rejection, Report, RulebookInfo
from compliance.rulebook.correlation import Inference, correlation_rules
from compliance.rulebook.evaluator import RulebookEvaluator
from compliance.rulebook.rulebook import Rulebook
from compliance.rulebook.schema import (
    CapRule,
    DeadlineRule,
    DesignationRule,
    PriceCapRule,
    ProhibitionRule,
    RollingPeriod,
    Rule,
    UnnotifiedRule,
)
from compliance.units import CONTEXT

__all__ = ["Changes", "Monitor"]

_PER_EVENT = (ProhibitionRule, DeadlineRule, DesignationRule, PriceCapRule)
# Totals kept exactly (no rounding, whatever the order of adds and removes).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
# A findings code's total, rounded at 34 digits once per event, is within n * 1e-34 of
# the exact one; a total this far below a level cannot pass it for any n < 1e13.
_MARGIN = Decimal("0.99999999999999999999")


class Changes(list[Finding]):
    """What one `feed` changed. Iterating gives the findings that became true;
    `withdrawn` holds those that stopped being true, `rejected` the records refused."""

    def __init__(
        self,
        raised: Iterable[Finding] = (),
        withdrawn: Iterable[Finding] = (),
        rejected: Iterable[Rejection] = (),
    ) -> None:
        super().__init__(raised)
        self.withdrawn: list[Finding] = list(withdrawn)
        self.rejected: list[Rejection] = list(rejected)

    @classmethod
    def none(cls) -> Changes:
        """No change (what nearly every feed returns), made without `__init__`."""
        changes = list.__new__(cls)
        changes.withdrawn = []
        changes.rejected = []
        return changes

    def __repr__(self) -> str:
        return (
            f"Changes(raised={list(self)!r}, withdrawn={self.withdrawn!r}, "
            f"rejected={self.rejected!r})"
        )

    def extend_changes(self, other: Changes) -> None:
        """Fold a later feed's changes into these (a finding raised then withdrawn is
        neither)."""
        for finding in other.withdrawn:
            if finding in self:
                self.remove(finding)
            else:
                self.withdrawn.append(finding)
        self.extend(other)
        self.rejected.extend(other.rejected)


class _Bucket:
    """Events of one rule that are evaluated together, and their current findings (a
    cap's: those derived from its members together; each member's own are in `own`)."""

    __slots__ = ("events", "findings", "order")

    def __init__(self) -> None:
        self.events: dict[str, Shipment] = {}
        self.order: list[tuple[date, str]] = []  # (date, id), sorted: rolling windows
        self.findings: list[Finding] = []  # a rolling cap's in date order (_cap_findings)

    def add(self, event: Shipment) -> int:
        """Add the event; its place in `order`."""
        self.events[event.id] = event
        key = (event.date, event.id)
        i = bisect.bisect_left(self.order, key)
        self.order.insert(i, key)
        return i

    def remove(self, event: Shipment) -> int:
        """Take the event out; the place in `order` it had."""
        del self.events[event.id]
        i = bisect.bisect_left(self.order, (event.date, event.id))
        del self.order[i]
        return i

    def between(self, first: date, last: date) -> list[Shipment]:
        lo = bisect.bisect_left(self.order, (first, ""))
        hi = bisect.bisect_right(self.order, (last, "\U0010ffff"))
        return [self.events[ident] for _, ident in self.order[lo:hi]]


class _CapBucket(_Bucket):
    """A cap's bucket: each member's amounts and own findings, and the exact totals.

    A member's own findings (unconvertible, unquantified) depend on it alone: they are
    announced when it joins and withdrawn when it leaves, never derived again, so a
    change to a period of thousands of members costs its few period findings only."""

    __slots__ = ("amounts", "labels", "own", "pairs", "tally", "total")

    def __init__(self, measures: int, tally: PeriodTally | None = None) -> None:
        super().__init__()
        self.pairs: list[tuple[Shipment, Amounts]] = []  # beside `order`: windows are slices
        self.amounts: dict[str, Amounts] = {}
        self.own: dict[str, list[Finding]] = {}
        self.total = [Decimal(0)] * measures
        # A fixed period's members with its running totals and series kept up to date:
        # a breach's findings list every member, and are built again at every change.
        self.tally = tally
        # A rolling cap's series labels (`cap_rolling_findings`): its windows are built
        # again after every change, and overlap.
        self.labels: dict[tuple[object, ...], str | None] = {}

    def add_member(self, event: Shipment, amounts: Amounts, own: list[Finding]) -> None:
        self.pairs.insert(self.add(event), (event, amounts))
        if self.tally is not None:
            self.tally.add(event, amounts)
        self.amounts[event.id] = amounts
        self.own[event.id] = own
        self.total = [
            t if a is None else _EXACT.add(t, a) for t, a in zip(self.total, amounts, strict=True)
        ]

    def remove_member(self, event: Shipment) -> list[Finding]:
        """Take the member out; its own findings."""
        del self.pairs[self.remove(event)]
        if self.tally is not None:
            self.tally.remove(event)
        own = self.own.pop(event.id)
        amounts = self.amounts.pop(event.id)
        self.total = [
            t if a is None else _EXACT.subtract(t, a)
            for t, a in zip(self.total, amounts, strict=True)
        ]
        return own

    def members(self, first: date, last: date) -> list[tuple[Shipment, Amounts]]:
        """(event, amounts) of the days first..last in (date, id) order."""
        lo = bisect.bisect_left(self.order, (first, ""))
        hi = bisect.bisect_right(self.order, (last, "\U0010ffff"))
        return self.pairs[lo:hi]

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for own in self.own.values() for f in own)]


class Monitor:
    """Evaluate events as they arrive; each `feed` says which findings changed.

    >>> with compliance.Monitor(compliance.load_rulebook()) as monitor:   # doctest: +SKIP
    ...     for event in feed:
    ...         changes = monitor.feed(event)
    ...         for finding in changes:             # became true
    ...             alert(finding)
    ...         for finding in changes.withdrawn:   # stopped being true
    ...             retract(finding)
    ...     assert monitor.report() == compliance.evaluate(all_events)

    `feed` may be called from several threads: feeds are applied one at a time, and the
    state after them equals a single-threaded feed of the same events in any order.

    `lateness` (a `timedelta` or a number of days; default None: everything is kept and
    a record of any age is evaluated exactly) bounds what the monitor holds: a record
    dated before `horizon` (the latest date fed less the lateness), or one that would
    change the outcome of such a record, is rejected with why, and what is announced is
    `evaluate()` of the records not so rejected (docs/monitoring.md).
    """

    def __init__(
        self,
        rulebook: Rulebook | None = None,
        *,
        as_of: date | None = None,
        lateness: timedelta | int | None = None,
    ) -> None:
        from compliance.rulebook.load import load_rulebook

        self.rulebook = rulebook if rulebook is not None else load_rulebook()
        # A live monitor judges deadlines on the day it runs; a replay may name its day.
        self.as_of = as_of if as_of is not None else date.today()
        self._evaluator = RulebookEvaluator(self.rulebook.rules)
        self._ledger = Ledger(compact=True)
        # Per cap rule, per measure: a total below this passes no threshold and no limit.
        self._floors = {
            i: [
                _EXACT.multiply(
                    min(
                        [m.amount, *(CONTEXT.multiply(m.amount, t.fraction) for t in r.thresholds)]
                    ),
                    _MARGIN,
                )
                for m in r.limit
            ]
            for i, r in enumerate(self.rulebook.rules)
            if isinstance(r, CapRule)
        }
        self._reached: dict[str, list[int]] = {}  # accepted shipment id -> rule indices
        self._buckets: dict[tuple[int, Hashable], _Bucket] = {}
        self._lock = threading.Lock()
        self._count = 0
        # Rejections by reconciliation as announced (a conflict or correction may add to
        # or change them); the others are announced once, with their record.
        self._rejected: list[Rejection] = []
        self._rejected_count = 0  # the ledger's rejected_count after the last feed
        self._plain = plain_rules(self.rulebook.rules)
        # Correlation rules need durable_rules: without it, one clear error here.
        has_correlation = bool(correlation_rules(self.rulebook.rules))
        self._correlator = DurableCorrelator(self.rulebook.rules) if has_correlation else None
        self._inferred: dict[tuple[int, str], Inference] = {}  # (rule n, first id) -> live
        self._latest_step = 0  # day number of the latest event given to the correlator
        # Allowed lateness (docs/monitoring.md, "Allowed lateness: the horizon"): None keeps
        # everything, so a record of any age is evaluated exactly.
        self.lateness = _lateness(lateness)
        self._latest: date | None = None  # the latest date of a record taken
        self._horizon: date | None = None  # records dated before it are refused
        self._future = False  # whether the horizon stands at today: a later date was fed
        # What a change can still reach: inferences are dated from their chain's first
        # event, which may be up to a chain's span before the event that changed it.
        self._span = timedelta(days=self._correlator.span if self._correlator else 0)
        # (day number after which nothing needs it, tie-break, event, its inference, the
        # index of the rule whose bucket holds it, or -1: the event itself)
        self._releases: list[tuple[int, int, Shipment, Inference | None, int]] = []
        self._tie = itertools.count()
        self._frozen: list[Finding] = []  # findings nothing can change any more

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feed(
        self,
        event: Mapping[str, Any] | Shipment,
        *,
        source: str = "<records>",
        line: int | None = None,
    ) -> Changes:
        """Take one event (a mapping of field to value, or a `Shipment`); return what it
        changed."""
        shipment = None
        if type(event) is dict:  # the usual event, before the (slower) ABC checks
            data: Mapping[str, Any] = event
        elif isinstance(event, Shipment):
            data, shipment = event.to_record(), event
        elif isinstance(event, Mapping):
            data = event
        else:
            raise TypeError(
                "Monitor.feed takes one event: a mapping of field names to values or a "
                f"compliance.Shipment (got {type(event).__name__})"
            )
        with self._lock:
            record = RawRecord.at(data, source, line, None if line is not None else self._count)
            record = readable(record)  # undecodable text escaped, huge ints as Decimal
            self._count += 1
            return self._take(record, shipment)

    def feed_record(self, record: RawRecord) -> Changes:
        """Take one record as a reader gave it (with its place and reading problems)."""
        with self._lock:
            self._count += 1
            return self._take(record, None)

    def feed_many(self, events: Iterable[Mapping[str, Any] | Shipment]) -> Changes:
        """Feed several events; the changes of all of them together."""
        out = Changes()
        for e in events:
            out.extend_changes(self.feed(e))
        return out

    def findings(self) -> list[Finding]:
        """Every finding announced and not withdrawn, sorted as in a report."""
        with self._lock:
            return self._findings()

    def report(self) -> Report:
        """The report on every event fed: equal to `evaluate()` on them."""
        with self._lock:
            return Report(
                findings=self._findings(),
                accounting=self._ledger.accounting,
                rejected=self._ledger.rejected,
                superseded=self._ledger.superseded,
                rulebook=RulebookInfo(
                    sources=list(self.rulebook.sources), rules=len(self.rulebook.rules)
                ),
                as_of=self.as_of,
            )

    def holding(self) -> dict[str, int]:
        """What the monitor holds now, by kind: `ids` (one compact ledger entry per
        record id, to recognise a late duplicate or correction), `shipments` (the
        ledger's, of the events some rule reaches), `members` (of the rules' buckets),
        `facts` (durable_rules facts of correlation steps, behind the watermark
        retracted) and `steps` (the correlation step events known, for late events).
        With a `lateness`, shipments, members and steps behind the horizon are let go."""
        with self._lock:
            correlator = self._correlator
            return {
                "ids": self._ledger.ids,
                "shipments": self._ledger.held,
                "members": sum(len(b.events) for b in self._buckets.values()),
                "facts": 0 if correlator is None else correlator.live_facts,
                "steps": 0 if correlator is None else correlator.events,
            }

    @property
    def horizon(self) -> date | None:
        """With a `lateness`: the latest date fed less the lateness; a record dated
        before it is refused unless it is a copy of a record known (None: no lateness,
        or nothing fed yet)."""
        with self._lock:
            return self._horizon

    def close(self) -> None:
        """Release what the monitor holds."""
        with self._lock:
            self._buckets.clear()
            self._reached.clear()
            self._rejected.clear()
            self._frozen.clear()
            self._releases.clear()
            if self._correlator is not None:
                self._correlator.close()

    # --------------------------------------------------------------------------------

    def _findings(self) -> list[Finding]:
        live = (
            f
            for b in self._buckets.values()
            for f in (b.all_findings() if isinstance(b, _CapBucket) else b.findings)
        )
        return sort_findings(itertools.chain(self._frozen, live))

    def _take(self, record: RawRecord, shipment: Shipment | None) -> Changes:
        result = shipment if shipment is not None else validate(record)
        reach: dict[str, list[int]] = {}
        if isinstance(result, list):
            self._ledger.add(record)
            rejected = [record.rejection(result)]
        elif self.lateness is not None and (refusal := self._refusal(result)) is not None:
            rejected = [self._ledger.refuse(record, [refusal])]
        else:
            # An event that reaches no rule can change no finding, now or after a
            # correction: the ledger need not hold it.
            reach[result.id] = reached = self._evaluator.rules_for(result)
            # A copy of a record behind the horizon adds nothing: never held again.
            keep = bool(reached) and (self._horizon is None or result.date >= self._horizon)
            if self._ledger.add(record, result, keep=keep):
                # Accepted at once, nothing else moved (nearly every event).
                changes = self._settle([], reach) if reached else Changes.none()
                if self.lateness is not None:
                    self._taken(result, reached if keep else None)
                return changes
            rejected = []
        count = self._ledger.rejected_count
        rejected_before, self._rejected_count = self._rejected_count, count
        if count > rejected_before + len(rejected):
            # A conflict or a correction that cannot apply rejects records fed earlier:
            # rare, so the reconciliation's rejections are compared then.
            known = {_where(r) for r in self._rejected}
            rejected = [r for r in self._ledger.reconciliation_rejected if _where(r) not in known]
            self._rejected.extend(rejected)
        changes = self._settle(rejected, reach)
        if self.lateness is not None and not isinstance(result, list) and result.id in reach:
            self._taken(result, reach[result.id] if keep else None)
        return changes

    # Lateness -----------------------------------------------------------------------

    def _refusal(self, event: Shipment) -> str | None:
        """Why a valid record cannot be taken with this horizon, or None: one dated
        before it (unless a copy of a record known), or one that would change the
        outcome of a record behind it (a correction of it, a copy with other content)."""
        horizon = self._horizon
        if horizon is None:
            return None
        ledger = self._ledger
        if event.date < horizon:
            if ledger.is_copy(event):
                return None  # a duplicate (or one more copy of a conflict), as always
            return (
                f"date: {event.date} is behind the monitor's horizon {horizon} "
                f"({self._why()}); evaluate it in a batch run"
            )
        if event.supersedes is None and not ledger.known(event.id):
            return None  # a new id, correcting nothing: nearly every record
        if ledger.is_copy(event):
            return None
        for ident, held, released in ledger.reconciled_with(event):
            if not released and (held is None or held.date >= horizon):
                # Held and within the horizon, or never held: it reaches no rule, so its
                # outcome changes no finding.
                continue
            which = f"dated {held.date}" if held is not None else "let go"
            if ident == event.id:
                what = f"id: {ident!r} is a record"
                how = "a copy with other content would reject it"
            elif ident == event.supersedes:
                what = f"supersedes: the record with id {ident!r} that it corrects is"
                how = "it cannot be corrected here"
            else:
                what = f"supersedes: it would change the outcome of the record {ident!r},"
                how = "corrections of one record are reconciled together"
            return (
                f"{what} behind the monitor's horizon {horizon} ({which}; {self._why()}): "
                f"{how}; evaluate it in a batch run"
            )
        return None

    def _why(self) -> str:
        assert self.lateness is not None
        days = self.lateness.days
        if self._future:
            later = "a later date fed counts as today"
            return f"today, {self._latest}, less lateness {days} days: {later}"
        return f"latest date fed {self._latest} less lateness {days} days"

    def _taken(self, event: Shipment, reached: list[int] | None) -> None:
        """A record was taken: when nothing will need its shipment and memberships any
        more (if held), and the horizon moved on by its date."""
        if reached is not None:
            self._release_after(event, reached, None)
        day = event.date
        if self._latest is not None and day <= self._latest:
            return
        # A record dated after today (a typo, a producer's clock ahead) moves the horizon
        # no further than today: it cannot make every later record too late.
        today = date.today()
        self._future = day > today
        day = min(day, today)
        if self._latest is not None and day <= self._latest:
            return
        assert self.lateness is not None
        self._latest = day
        horizon = day - self.lateness
        if self._horizon is not None and horizon <= self._horizon:
            return
        self._horizon = horizon
        self._let_go(horizon - self._span)

    def _release_after(
        self, event: Shipment, reached: list[int], inference: Inference | None
    ) -> None:
        """Note the last day on which a change can still need each of the event's
        memberships — its own date (per-event rules; correlation steps, which the
        correlator keeps as every change is kept), its date plus a rolling cap's days,
        its period's end — and the event itself (its shipment): the latest of them."""
        last = event.date
        push, releases, tie = heapq.heappush, self._releases, self._tie
        for index in reached:
            rule = self.rulebook.rules[index]
            day = event.date
            if isinstance(rule, CapRule) and isinstance(rule.period, RollingPeriod):
                day = event.date + timedelta(days=rule.period.days)
            elif isinstance(rule, CapRule | UnnotifiedRule):
                span = span_of(rule, event.date)
                if span is not None:
                    day = span.end
            if index in self._plain:
                push(releases, (day.toordinal(), next(tie), event, inference, index))
            last = max(last, day)
        push(releases, (last.toordinal(), next(tie), event, inference, -1))

    def _let_go(self, kept_from: date) -> None:
        """Let go of what no change dated on or after `kept_from` can need: shipments,
        bucket members, correlation step events; a bucket that nothing can change any
        more keeps its findings only (`_frozen`)."""
        limit = kept_from.toordinal()
        releases = self._releases
        rolling: dict[tuple[int, Hashable], _Bucket] = {}
        names = {}
        if self._correlator is not None:
            names = {c.rule.id: n for n, (_, c) in enumerate(self._correlator.compiled)}
        while releases and releases[0][0] < limit:
            _, _, event, inference, index = heapq.heappop(releases)
            if inference is not None:
                head = (names[inference.rule.id], inference.chain[0].id)
                if self._inferred.get(head) is not inference:
                    continue  # it stopped being inferred: its buckets already left
            if index < 0:  # the event itself, after all its memberships
                if inference is None:
                    self._ledger.release(event.id)
                else:
                    del self._inferred[head]
                    own = self._buckets.pop(self._inference_key(inference))
                    self._frozen.extend(own.findings)
                if self._reached.get(event.id) == []:
                    del self._reached[event.id]
                continue
            indices = self._reached.get(event.id)
            if indices is None or index not in indices:
                continue  # not accepted now (superseded, rejected), or let go already
            indices.remove(index)
            key = self._key(index, event)
            bucket = self._buckets.get(key)
            if bucket is None:
                continue  # its period was frozen with an earlier member
            rule = self.rulebook.rules[index]
            if isinstance(rule, CapRule) and isinstance(rule.period, RollingPeriod):
                assert isinstance(bucket, _CapBucket)
                self._frozen.extend(bucket.remove_member(event))  # dated before the limit
                rolling[key] = bucket
            else:
                # A period that ended, or one event's own findings: frozen whole.
                self._frozen.extend(
                    bucket.all_findings() if isinstance(bucket, _CapBucket) else bucket.findings
                )
                del self._buckets[key]
        for key, bucket in rolling.items():
            # Findings dated before the limit rest on windows no change can reach.
            live: list[Finding] = []
            for finding in bucket.findings:
                (self._frozen if finding.date < kept_from else live).append(finding)
            bucket.findings = live
            if not bucket.events and not live:
                del self._buckets[key]
        if self._correlator is not None:
            self._correlator.forget(kept_from)

    def _rules_for(self, event: Shipment, reach: dict[str, list[int]]) -> list[int]:
        known = reach.get(event.id)
        if known is None:
            known = reach[event.id] = self._evaluator.rules_for(event)
        return known

    def _settle(self, rejected: list[Rejection], reach: dict[str, list[int]]) -> Changes:
        change = self._ledger.changes()
        if not change.accepted and not change.withdrawn:
            return Changes((), (), rejected)
        dirty: dict[tuple[int, Hashable], _Dirty] = {}
        raised: list[Finding] = []
        withdrawn: list[Finding] = []
        own_raised: list[Finding] = []  # members' own findings (see _CapBucket)
        own_withdrawn: list[Finding] = []
        gone, fresh = self._correlate(change.withdrawn, change.accepted, reach)
        for event in [*change.withdrawn, *(i.event for i in gone)]:
            for index in self._reached.pop(event.id, ()):
                key = self._key(index, event)
                bucket = self._buckets[key]
                if isinstance(bucket, _CapBucket):
                    own_withdrawn.extend(bucket.remove_member(event))
                else:
                    bucket.remove(event)
                _widen(dirty, key, event, self.rulebook.rules[index], removed=True)
        for event in [*change.accepted, *(i.event for i in fresh)]:
            reached = [
                i
                for i in self._rules_for(event, reach)
                if i in self._plain  # correlations take their step events in _correlate
            ]
            if not reached:
                continue
            self._reached[event.id] = reached
            for index in reached:
                rule = self.rulebook.rules[index]
                key = self._key(index, event)
                if isinstance(rule, CapRule):
                    cap = self._buckets.get(key)
                    if cap is None:
                        where = key[1]
                        assert isinstance(where, tuple)
                        tally = None
                        if not isinstance(rule.period, RollingPeriod) and len(where) == 2:
                            group, span = where
                            assert isinstance(span, Span)
                            tally = PeriodTally(rule, group, span, self.rulebook)
                        cap = self._buckets[key] = _CapBucket(len(rule.limit), tally)
                    assert isinstance(cap, _CapBucket)
                    amounts = cap_amounts(rule, event, self.rulebook)
                    own = cap_event_findings(rule, event, amounts)
                    cap.add_member(event, amounts, own)
                    own_raised.extend(own)
                else:
                    self._buckets.setdefault(key, _Bucket()).add(event)
                _widen(dirty, key, event, rule, removed=False)
        # An inferred event's own finding (the `inferred` notice) is a bucket of its own.
        for inference in gone:
            withdrawn.extend(self._buckets.pop(self._inference_key(inference)).findings)
        for inference in fresh:
            bucket = _Bucket()
            bucket.add(inference.event)
            assert self._correlator is not None
            compiled = self._correlator.compiled_for(inference.rule.id)
            bucket.findings = [inference_finding(compiled, inference)]
            self._buckets[self._inference_key(inference)] = bucket
            raised.extend(bucket.findings)
            if self.lateness is not None:
                reached = self._reached.get(inference.event.id, [])
                self._release_after(inference.event, reached, inference)
        for key, touched in dirty.items():
            bucket = self._buckets[key]
            rule = self.rulebook.rules[key[0]]
            before = bucket.findings
            if isinstance(bucket, _CapBucket):
                assert isinstance(rule, CapRule)
                if not touched.removed and all(
                    t < floor for t, floor in zip(bucket.total, self._floors[key[0]], strict=True)
                ):
                    continue  # below every level, and no member left: no period findings
                lo, hi, after = self._cap_findings(rule, key, bucket, touched)
            else:
                after = findings_for_rule(
                    rule, list(bucket.events.values()), self.rulebook, as_of=self.as_of
                )
                lo, hi = 0, len(before)
            # Only what was derived again is compared: a rolling cap's bucket can hold
            # thousands of findings, and comparing each with every other (pydantic `==`)
            # grew with the history.
            replaced = before[lo:hi]
            raised.extend(f for f in after if not _among(f, replaced))
            withdrawn.extend(f for f in replaced if not _among(f, after))
            bucket.findings = [*before[:lo], *after, *before[hi:]]
            if not bucket.events:
                del self._buckets[key]
        # A member that left and came back alike in one feed changed nothing.
        same = [f for f in own_raised if f in own_withdrawn]
        raised += [f for f in own_raised if f not in same]
        withdrawn += [f for f in own_withdrawn if f not in same]
        return Changes(sort_findings(raised), sort_findings(withdrawn), rejected)

    def _cap_findings(
        self, rule: CapRule, key: tuple[int, Hashable], bucket: _CapBucket, touched: _Dirty
    ) -> tuple[int, int, list[Finding]]:
        """The cap bucket's findings derived again: (lo, hi, findings) to take the place
        of `bucket.findings[lo:hi]`."""
        where = key[1]
        assert isinstance(where, tuple)
        found = bucket.findings
        if not isinstance(rule.period, RollingPeriod):
            tally = bucket.tally
            if tally is None:  # an event outside every fixed period: its own findings only
                return 0, len(found), []
            return 0, len(found), tally.findings()
        first, last = touched.first, touched.last
        reach = timedelta(days=rule.period.days)
        # Findings on days first..last+reach rest on events from first-reach on.
        members = bucket.members(first - reach, last + reach)
        end = last + reach
        if len(bucket.labels) > 2 * len(bucket.pairs) + 64:
            bucket.labels.clear()  # a memo: what members gone by left in it is let go
        after = [
            f
            for f in cap_rolling_findings(
                rule, where, members, self.rulebook, since=first, labels=bucket.labels
            )
            if f.date <= end
        ]
        # A rolling cap's findings are kept in date order: those of the days a change can
        # move are a slice found by bisection, not a walk over the years' findings.
        after.sort(key=_dated)
        lo = bisect.bisect_left(found, first, key=_dated)
        return lo, bisect.bisect_right(found, end, lo=lo, key=_dated), after

    def _correlate(
        self,
        withdrawn: Iterable[Shipment],
        accepted: Iterable[Shipment],
        reach: dict[str, list[int]],
    ) -> tuple[list[Inference], list[Inference]]:
        """Events leaving and entering the ledger, through durable_rules: the inferences
        that stopped being true and those that became true."""
        correlator = self._correlator
        if correlator is None:
            return [], []
        changed: set[tuple[int, str]] = set()
        for event in withdrawn:
            changed |= correlator.remove(event.id)
        latest = self._latest_step
        for event in accepted:
            if any(i not in self._plain for i in self._rules_for(event, reach)):
                changed |= correlator.add(event)
                latest = max(latest, event.date.toordinal())
        if latest > self._latest_step:
            # The watermark: facts of events more than a chain's span before the latest
            # step event are retracted; an event older than it is joined from the kept
            # shipments (DurableCorrelator.add), so nothing announced changes.
            self._latest_step = latest
            correlator.expire(date.fromordinal(max(1, latest - correlator.span)))
        if not changed:
            return [], []
        names = {c.rule.id: n for n, (_, c) in enumerate(correlator.compiled)}
        now = {(names[i.rule.id], i.chain[0].id): i for i in correlator.inferences(changed)}
        gone, new = [], []
        for key in changed:
            before, after = self._inferred.get(key), now.get(key)
            if before is not None and (after is None or after.event != before.event):
                gone.append(self._inferred.pop(key))
            if after is not None and key not in self._inferred:
                self._inferred[key] = after
                new.append(after)
        return gone, new

    def _inference_key(self, inference: Inference) -> tuple[int, Hashable]:
        index = self.rulebook.rules.index(inference.rule)
        return (index, ("inferred", inference.event.id))

    def _key(self, index: int, event: Shipment) -> tuple[int, Hashable]:
        rule = self.rulebook.rules[index]
        return (index, _bucket_of(rule, event))


_dated = operator.attrgetter("date")


def _among(finding: Finding, findings: list[Finding]) -> bool:
    """`finding in findings`, most pairs told apart by what differs first after a change
    (a breached period's findings differ from the last ones by their events): pydantic's
    `==` on every pair cost more than building them."""
    kind, day, events = finding.kind, finding.date, len(finding.events)
    return any(
        f.kind == kind and f.date == day and len(f.events) == events and f == finding
        for f in findings
    )


def _lateness(lateness: timedelta | int | None) -> timedelta | None:
    """A lateness as whole days (dates have no hours), or a clear error."""
    if lateness is None:
        return None
    if isinstance(lateness, timedelta):
        days = lateness.days
        whole = lateness == timedelta(days=days)
    elif isinstance(lateness, int) and not isinstance(lateness, bool):
        days, whole = lateness, True
    else:
        raise TypeError(
            "Monitor(lateness=…) takes a datetime.timedelta or a number of days "
            f"(got {type(lateness).__name__})"
        )
    if not whole or days < 0:
        raise ValueError(f"Monitor(lateness=…) must be whole days, 0 or more (got {lateness!r})")
    return timedelta(days=days)


def _bucket_of(rule: Rule, event: Shipment) -> Hashable:
    """Which of the rule's events are evaluated together with this one."""
    if isinstance(rule, _PER_EVENT):
        return event.id
    if isinstance(rule, CapRule | UnnotifiedRule):
        group = tuple(event.get(f) for f in rule.group_by)
        if isinstance(rule.period, RollingPeriod):
            return group
        span = span_of(rule, event.date)
        # Outside a fixed period an event can still be unconvertible: on its own then.
        return (group, span) if span is not None else (group, None, event.id)
    return None  # a kind with no locality known here: the whole rule, every time


class _Dirty:
    """What one feed changed in a bucket: its first and last day touched, whether any
    member left."""

    __slots__ = ("first", "last", "removed")

    def __init__(self, day: date) -> None:
        self.first = self.last = day
        self.removed = False


def _widen(
    dirty: dict[tuple[int, Hashable], _Dirty],
    key: tuple[int, Hashable],
    event: Shipment,
    rule: Rule,
    *,
    removed: bool,
) -> None:
    touched = dirty.get(key)
    if touched is None:
        touched = dirty[key] = _Dirty(event.date)
    else:
        touched.first = min(touched.first, event.date)
        touched.last = max(touched.last, event.date)
    if removed:
        touched.removed = True


def _where(r: Rejection) -> tuple[object, ...]:
    return (r.source, r.line, r.index, tuple(r.reasons))
