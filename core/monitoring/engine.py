"""The monitoring engine: the rules of core.monitoring.rules as Ibis expressions, run on DuckDB.

Input by injection, so that the service, the tests and the benchmark feed it alike:

- ``roster``: Parquet paths or an Arrow table with ``id_number`` (18 characters), ``household_key``
  (members of one household share it), ``rank`` (0 for the head; the lowest surviving rank receives a
  household's warning) — plus any other columns, which are carried into the hits (township, name …);
- ``data``: {category code: [Parquet paths]} in the layout of core.exchange.store (``id_number``,
  ``effective_date``, ``load_id``, ``row_no`` + the category's typed columns); a missing category is
  an empty table.

``evaluate`` returns one ``RuleHit`` per rule × person with the computed values and the evidence rows
(at most ``EVIDENCE_LIMIT`` per hit and category, newest first). Nothing here touches PostgreSQL.
The same expressions run on another Ibis backend (PySpark) given tables of the same shape.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa

from core.exchange.defaults import DEFAULTS_BY_CODE
from core.monitoring.rules import ROSTER

EVIDENCE_LIMIT = 12
ROSTER_CORE = ("id_number", "household_key", "rank")
_ARROW_TYPES = {"varchar": pa.string(), "integer": pa.int64(), "decimal": pa.float64(), "date": pa.date32()}


@dataclass
class RuleHit:
    rule: str
    id_number: str
    household_key: str
    value: float | None
    value_a: float | None = None
    value_b: float | None = None
    roster: dict[str, Any] = field(default_factory=dict)  # the person's roster columns
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def fingerprint(self) -> str:
        """What the hit rests on: the rule and the evidence records (not the load they came in)."""
        rows = sorted(
            json.dumps({k: v for k, v in e.items() if k not in ("load_id", "row_no")}, sort_keys=True, default=str)
            for e in self.evidence
        )
        if not rows:  # a hit on the roster alone (living alone): the person and the rule
            rows = [self.id_number]
        return hashlib.sha256("\n".join([self.rule, *rows]).encode()).hexdigest()


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_before(day: date, years: int) -> date:
    return months_before(day, 12 * years)


def connect(*, threads: int = 2, memory_limit: str = "1536MB", temp_directory: str | None = None) -> Any:
    config: dict[str, Any] = {"threads": threads, "memory_limit": memory_limit}
    if temp_directory:
        config["temp_directory"] = temp_directory
    return ibis.duckdb.connect(**config)


def _empty_category(code: str) -> pa.Table:
    spec = DEFAULTS_BY_CODE[code]
    fields = [
        pa.field("id_number", pa.string()),
        pa.field("effective_date", pa.date32()),
        pa.field("load_id", pa.int64()),
        pa.field("row_no", pa.int64()),
    ]
    fields += [pa.field(c["key"], _ARROW_TYPES[c["type"]]) for c in spec["columns"] if c["key"] != "id_number"]
    return pa.schema(fields).empty_table()


class Inputs:
    """The roster and the department tables as Ibis tables on one connection.

    With a small roster (an Arrow table: an incremental run, a preview) the rows of each category that
    concern its persons are read from Parquet once into a temporary table that every rule then reuses."""

    _serial = 0

    def __init__(
        self,
        con: Any,
        roster: Sequence[str] | pa.Table,
        data: Mapping[str, Sequence[str]],
        *,
        materialize: bool | None = None,
    ) -> None:
        self.con = con
        Inputs._serial += 1
        self.prefix = f"mon{Inputs._serial}"
        self.materialize = isinstance(roster, pa.Table) if materialize is None else materialize
        if isinstance(roster, pa.Table):
            if self.materialize:
                raw = con.con
                raw.register(f"{self.prefix}_roster_src", roster)
                raw.execute(
                    f"CREATE OR REPLACE TEMP TABLE {self.prefix}_roster AS SELECT * FROM {self.prefix}_roster_src"  # noqa: S608 - our own names
                )
                raw.unregister(f"{self.prefix}_roster_src")
                self.roster_full = con.table(f"{self.prefix}_roster")
            else:
                self.roster_full = ibis.memtable(roster)
        else:
            self.roster_full = con.read_parquet(list(roster))
        self.roster = self.roster_full.select(*ROSTER_CORE)
        self.data_paths = {k: list(v) for k, v in data.items() if v}
        self._tables: dict[str, Any] = {}

    def table(self, code: str) -> Any:
        if code not in self._tables:
            paths = self.data_paths.get(code)
            if not paths:
                self._tables[code] = ibis.memtable(_empty_category(code))
            elif self.materialize:
                listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
                name = f"{self.prefix}_{code}"
                self.con.con.execute(
                    # names are ours; the paths come from the store and are quoted
                    f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_parquet([{listed}], "  # noqa: S608
                    f"union_by_name = true, hive_partitioning = false) "
                    f"WHERE id_number IN (SELECT id_number FROM {self.prefix}_roster)"
                )
                self._tables[code] = self.con.table(name)
            else:
                self._tables[code] = self.con.read_parquet(paths, union_by_name=True, hive_partitioning=False)
        return self._tables[code]

    def representatives(self) -> Any:
        """The first member of each household (computed once per run into a temporary table)."""
        return self._cached("_reps", lambda: _representatives(self.roster))

    def dead_ids(self, as_of: date) -> Any:
        """The ID numbers with a death recorded on or before ``as_of`` (once per run)."""

        def build() -> Any:
            deaths = self.table("deaths")
            return deaths.filter(deaths.effective_date <= as_of).select("id_number").distinct()

        return self._cached(f"_dead_{as_of:%Y%m%d}", build)

    def _cached(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._tables:
            expr = build()
            self.con._run_pre_execute_hooks(expr)  # registers in-memory tables, as executing would
            sql = self.con.compile(expr)
            self.con.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.prefix}_{key} AS {sql}")
            self._tables[key] = self.con.table(f"{self.prefix}_{key}")
        return self._tables[key]

    def close(self) -> None:
        for code in self._tables:
            if self.materialize or code.startswith("_"):
                self.con.con.execute(f"DROP TABLE IF EXISTS {self.prefix}_{code}")
        if self.materialize:
            self.con.con.execute(f"DROP TABLE IF EXISTS {self.prefix}_roster")


def _birth(id_number: Any) -> Any:
    return id_number.substr(6, 8).as_date("%Y%m%d")


def _amount(t: Any, columns: Sequence[str]) -> Any:
    total = None
    for column in columns:
        part = t[column].cast("float64").fill_null(0.0)
        total = part if total is None else total + part
    return total if total is not None else ibis.literal(0.0)


def _window(t: Any, rule: dict[str, Any], as_of: date, column: str = "effective_date") -> Any:
    t = t.filter(t[column] <= as_of)
    months = rule.get("window_months") or 0
    if months > 0:
        t = t.filter(t[column] > months_before(as_of, months))
    return t


def _filtered(t: Any, rule: dict[str, Any]) -> Any:
    for column, codes in (rule.get("filters") or {}).items():
        t = t.filter(t[column].cast("string").isin(codes))
    return t


def _representatives(roster: Any) -> Any:
    """The first member of each household (lowest rank, then ID number)."""
    ranked = roster.mutate(
        _n=ibis.row_number().over(group_by=roster.household_key, order_by=[roster.rank, roster.id_number])
    )
    return ranked.filter(ranked._n == 0).select("id_number", "household_key")


def _out(t: Any, rule: dict[str, Any], value: Any, a: Any = None, b: Any = None) -> Any:
    return t.select(
        rule=ibis.literal(rule["code"]),
        id_number=t.id_number,
        value=value.cast("float64"),
        value_a=(a if a is not None else ibis.null()).cast("float64"),
        value_b=(b if b is not None else ibis.null()).cast("float64"),
    )


def _by_household(inputs: Inputs, rows: Any, value: Any) -> Any:
    """Rows of roster persons summed per household (``value`` named ``v`` in the result)."""
    joined = rows.inner_join(inputs.roster, "id_number")
    return joined.group_by("household_key").aggregate(v=value(joined))


def _aggregate(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    t = _filtered(_window(inputs.table(rule["category"]), rule, as_of), rule)
    agg = rule.get("agg", "sum")

    def value(x: Any) -> Any:
        if agg == "count":
            return x.count().cast("float64")
        amount = _amount(x, rule["columns"])
        return amount.max() if agg == "max" else amount.sum()

    if rule.get("scope") == "household":
        g = _by_household(inputs, t, value)
        g = g.filter(g.v >= rule["threshold"])
        hit = g.inner_join(inputs.representatives(), "household_key")
        return _out(hit, rule, hit.v)
    t = t.semi_join(inputs.roster, "id_number")
    g = t.group_by("id_number").aggregate(v=value(t))
    g = g.filter(g.v >= rule["threshold"])
    return _out(g, rule, g.v)


def _share_of_income(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    costs = _filtered(_window(inputs.table(rule["category"]), rule, as_of), rule)
    cost = _by_household(inputs, costs, lambda x: _amount(x, rule["columns"]).sum())
    cost = cost.filter(cost.v >= max(rule.get("min_amount") or 0, 0.01))
    incomes = [
        _window(inputs.table(code), rule, as_of).select("id_number", amount=_amount(inputs.table(code), ["amount"]))
        for code in rule["income"]
    ]
    income_rows = incomes[0] if len(incomes) == 1 else ibis.union(*incomes)
    income = _by_household(inputs, income_rows, lambda x: x.amount.sum()).rename(inc="v")
    both = cost.left_join(income, "household_key").select("household_key", "v", "inc")
    ratio = ibis.ifelse(both.inc.fill_null(0.0) > 0, both.v * 100.0 / both.inc, ibis.null().cast("float64"))
    both = both.mutate(ratio=ratio)
    both = both.filter(both.ratio.isnull() | (both.ratio >= rule["threshold"]))
    hit = both.inner_join(inputs.representatives(), "household_key")
    return _out(hit, rule, hit.ratio, hit.v, hit.inc)


def _change(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    period = rule.get("period_months") or 3
    current_start = months_before(as_of, period)
    if rule.get("compare") == "year":
        before_end, before_start = months_before(as_of, 12), months_before(as_of, 12 + period)
    else:
        before_end, before_start = current_start, months_before(as_of, 2 * period)
    t = inputs.table(rule["category"])
    t = _filtered(t.filter((t.effective_date > before_start) & (t.effective_date <= as_of)), rule)
    t = t.semi_join(inputs.roster, "id_number")
    amount = _amount(t, rule["columns"])
    in_current = (t.effective_date > current_start) & (t.effective_date <= as_of)
    in_before = (t.effective_date > before_start) & (t.effective_date <= before_end)
    g = t.group_by("id_number").aggregate(
        cur=amount.sum(where=in_current).fill_null(0.0), before=amount.sum(where=in_before).fill_null(0.0)
    )
    g = g.filter(g.before >= max(rule.get("min_amount") or 0, 0.01))
    g = g.mutate(drop_pct=(g.before - g.cur) * 100.0 / g.before)
    g = g.filter(g.drop_pct >= rule["threshold"])
    return _out(g, rule, g.drop_pct, g.before, g.cur)


def _exists(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    t = _filtered(inputs.table(rule["category"]), rule)
    t = _window(t, rule, as_of, rule.get("date_column") or "effective_date")
    if rule.get("open_column"):
        end = t[rule["open_column"]]
        t = t.filter(end.isnull() | (end >= as_of))
    t = t.semi_join(inputs.roster, "id_number")
    g = t.group_by("id_number").aggregate(v=t.count().cast("float64"))
    return _out(g, rule, g.v)


def _ages(roster: Any, as_of: date, min_age: int, max_age: int) -> Any:
    """Roster rows aged ``min_age`` ≤ age < ``max_age`` on ``as_of`` (from the ID number's birth date)."""
    birth = _birth(roster.id_number)
    return roster.filter((birth <= years_before(as_of, min_age)) & (birth > years_before(as_of, max_age)))


def _dead_ids(inputs: Inputs, as_of: date) -> Any:
    return inputs.dead_ids(as_of)


def _earner_death(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    deaths = _window(inputs.table("deaths"), rule, as_of).select("id_number").distinct()
    earners = _ages(inputs.roster, as_of, rule["min_age"], rule["max_age"])
    deceased = earners.semi_join(deaths, "id_number")
    per_household = deceased.group_by("household_key").aggregate(v=deceased.count().cast("float64"))
    survivors = inputs.roster.anti_join(_dead_ids(inputs, as_of), "id_number")
    reps = _representatives(survivors)
    hit = per_household.inner_join(reps, "household_key")
    return _out(hit, rule, hit.v)


def _carers_absent(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    max_age = rule.get("max_age") or 18
    roster = inputs.roster
    children = _ages(roster, as_of, 0, max_age)
    adults = _ages(roster, as_of, max_age, 150)
    custody = _filtered(inputs.table(rule["category"]), rule)
    custody = custody.filter(custody.effective_date <= as_of).select("id_number")
    absent = ibis.union(custody, _dead_ids(inputs, as_of), distinct=True).mutate(absent=ibis.literal(1))
    flagged = adults.left_join(absent, "id_number").select(adults.household_key, absent=absent.absent.fill_null(0))
    per_household = flagged.group_by("household_key").aggregate(
        adults=flagged.count(), gone=flagged.absent.sum().cast("int64")
    )
    per_household = per_household.filter((per_household.adults > 0) & (per_household.gone == per_household.adults))
    hit = children.inner_join(per_household, "household_key")
    return _out(hit, rule, hit.gone)


def _living_alone(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    roster = inputs.roster
    sizes = roster.group_by("household_key").aggregate(n=roster.count())
    old = _ages(roster, as_of, rule.get("min_age") or 80, 150)
    alone = old.inner_join(sizes.filter(sizes.n == 1), "household_key")
    alone = alone.anti_join(_dead_ids(inputs, as_of), "id_number")
    age = (ibis.literal(as_of).year() - _birth(alone.id_number).year()).cast("float64")
    return _out(alone, rule, age)


KIND_FUNCS: dict[str, Callable[[Inputs, dict[str, Any], date], Any]] = {
    "aggregate": _aggregate,
    "share_of_income": _share_of_income,
    "change": _change,
    "exists": _exists,
    "earner_death": _earner_death,
    "carers_absent": _carers_absent,
    "living_alone": _living_alone,
}
HOUSEHOLD_EVIDENCE = {"share_of_income", "earner_death", "carers_absent"}


def rule_expr(inputs: Inputs, rule: dict[str, Any], as_of: date) -> Any:
    """The hits of one rule (rule, id_number, value, value_a, value_b), living persons only."""
    expr = KIND_FUNCS[rule["kind"]](inputs, rule, as_of)
    return expr.anti_join(_dead_ids(inputs, as_of), "id_number")


def evidence_categories(rule: dict[str, Any]) -> list[str]:
    if rule["kind"] == "living_alone" or rule["category"] == ROSTER:
        return []
    if rule["kind"] == "share_of_income":
        return [rule["category"], *rule["income"]]
    if rule["kind"] == "carers_absent":
        return [rule["category"], "deaths"]
    return [rule["category"]]


def _evidence_rows(inputs: Inputs, rule: dict[str, Any], code: str, ids: pa.Table, as_of: date) -> pa.Table:
    """The category rows the hit rests on, for the persons in ``ids`` (newest first)."""
    t = inputs.table(code)
    if code == rule["category"]:
        t = _filtered(t, rule)
        if rule["kind"] == "change":
            period = rule.get("period_months") or 3
            back = 12 + period if rule.get("compare") == "year" else 2 * period
            t = t.filter((t.effective_date > months_before(as_of, back)) & (t.effective_date <= as_of))
        elif rule["kind"] == "carers_absent":
            t = t.filter(t.effective_date <= as_of)
        else:
            t = _window(t, rule, as_of, rule.get("date_column") or "effective_date")
    elif code == "deaths" and rule["kind"] == "carers_absent":
        t = t.filter(t.effective_date <= as_of)
    else:
        t = _window(t, rule, as_of)
    wanted = ibis.memtable(ids)
    t = t.semi_join(wanted, "id_number")
    ranked = t.mutate(
        _n=ibis.row_number().over(group_by=t.id_number, order_by=[t.effective_date.desc(), t.row_no.desc()])
    )
    ranked = ranked.filter(ranked._n < EVIDENCE_LIMIT).drop("_n")
    return inputs.con.to_pyarrow(ranked)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def evaluate(
    con: Any,
    roster: Sequence[str] | pa.Table,
    data: Mapping[str, Sequence[str]],
    rules: Sequence[dict[str, Any]],
    as_of: date,
    *,
    evidence: bool = True,
    progress: Callable[[str, int], None] | None = None,
) -> list[RuleHit]:
    """Run every enabled rule; see the module docstring."""
    from core import idnumber

    inputs = Inputs(con, roster, data)
    enabled = [r for r in rules if r.get("enabled", True)]
    hits: list[RuleHit] = []
    extra = [c for c in inputs.roster_full.columns if c not in ("id_number", "household_key", "rank")]
    for n, rule in enumerate(enabled):
        expr = rule_expr(inputs, rule, as_of)
        r = inputs.roster_full
        joined = expr.inner_join(r, "id_number").select(
            expr.rule, expr.id_number, expr.value, expr.value_a, expr.value_b, r.household_key, *[r[c] for c in extra]
        )
        table = con.to_pyarrow(joined)
        rule_hits = [
            RuleHit(
                rule=row["rule"],
                id_number=row["id_number"],
                household_key=row["household_key"],
                value=row["value"],
                value_a=row["value_a"],
                value_b=row["value_b"],
                roster={c: row[c] for c in extra},
            )
            for row in table.to_pylist()
        ]
        if evidence and rule_hits:
            _attach_evidence(inputs, rule, rule_hits, as_of, idnumber.mask)
        hits.extend(rule_hits)
        if progress:
            progress(rule["code"], int((n + 1) * 100 / max(1, len(enabled))))
    inputs.close()
    return hits


def _attach_evidence(
    inputs: Inputs, rule: dict[str, Any], hits: list[RuleHit], as_of: date, mask: Callable[[str], Any]
) -> None:
    categories = evidence_categories(rule)
    if not categories:
        return
    if rule["kind"] in HOUSEHOLD_EVIDENCE or rule.get("scope") == "household":
        keys = pa.table({"household_key": sorted({h.household_key for h in hits})})
        keyed = ibis.memtable(keys)
        members = inputs.roster.semi_join(keyed, "household_key").select("id_number", "household_key")
        member_rows = inputs.con.to_pyarrow(members).to_pylist()
        owner = {m["id_number"]: m["household_key"] for m in member_rows}
        by_owner: dict[str, list[RuleHit]] = defaultdict(list)
        for h in hits:
            by_owner[h.household_key].append(h)

        def targets(id_number: str) -> list[RuleHit]:
            return by_owner.get(owner.get(id_number, ""), [])

        ids = pa.table({"id_number": sorted(owner)})
    else:
        by_person: dict[str, list[RuleHit]] = defaultdict(list)
        for h in hits:
            by_person[h.id_number].append(h)

        def targets(id_number: str) -> list[RuleHit]:
            return by_person.get(id_number, [])

        ids = pa.table({"id_number": sorted(by_person)})
    for code in categories:
        label = DEFAULTS_BY_CODE[code]["name"]
        for row in _evidence_rows(inputs, rule, code, ids, as_of).to_pylist():
            item = {"category": code, "category_label": label}
            for key, value in row.items():
                if key == "id_number":
                    item["person"] = mask(value)
                elif value is not None:
                    item[key] = _plain(value)
            for h in targets(row["id_number"]):
                if len(h.evidence) < EVIDENCE_LIMIT * len(categories):
                    h.evidence.append(item)
