"""The deterministic intent parser: intent, period (site-calendar days as UTC ranges) and site, relative to
a fixed `now` (2026-12-06, a Sunday, Europe/Berlin)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from luna_iems.assistant import intents

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
TZ = "Europe/Berlin"


@pytest.mark.parametrize(
    ("question", "tool", "period"),
    [
        ("What was my autarky last week?", "site_kpis", "2026-11-23/2026-11-30"),
        ("Wie hoch war meine Autarkie letzte Woche?", "site_kpis", "2026-11-23/2026-11-30"),
        ("Why was the bill high in November?", "compare_periods", "2026-11-01/2026-12-01"),
        ("Warum war die Rechnung im November so hoch?", "compare_periods", "2026-11-01/2026-12-01"),
        ("When should I charge tomorrow?", "optimiser_plan", "2026-12-07/2026-12-08"),
        ("Wann soll ich morgen die Batterie laden?", "optimiser_plan", "2026-12-07/2026-12-08"),
        ("Wie viel habe ich gestern verbraucht?", "site_kpis", "2026-12-05/2026-12-06"),
        ("How much did I import from the grid last month?", "site_kpis", "2026-11-01/2026-12-01"),
        ("Meine Kosten diesen Monat?", "site_kpis", "2026-12-01/2026-12-07"),
        ("What were my costs from 2026-10-01 to 2026-10-15?", "site_kpis", "2026-10-01/2026-10-16"),
    ],
)
def test_common_questions_parse_to_a_tool_and_period(question: str, tool: str, period: str) -> None:
    parsed = intents.parse(question, now=NOW, timezone=TZ, sites=["sim"])
    assert parsed is not None
    assert (parsed.tool, parsed.period.key if parsed.period else None, parsed.site) == (tool, period, "sim")


def test_local_days_become_utc_ranges_across_daylight_saving() -> None:
    november = intents.parse_period("im November", now=NOW, timezone=TZ)
    assert november is not None
    assert (november.ts_from, november.ts_to) == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 11, 30, 23, tzinfo=UTC),
    )
    october = intents.parse_period("in October 2026", now=NOW, timezone=TZ)
    assert october is not None and october.ts_from == datetime(2026, 9, 30, 22, tzinfo=UTC)  # CEST
    assert november.previous().key == "2026-10-01/2026-11-01"


def test_document_questions_and_unknown_sites_are_not_answered_with_data() -> None:
    assert intents.parse("What is autarky?", now=NOW, timezone=TZ, sites=["sim"]) is None
    assert intents.parse("Wer hat die Anlage gebaut?", now=NOW, timezone=TZ, sites=["sim"]) is None
    several = intents.parse("My autarky yesterday?", now=NOW, timezone=TZ, sites=["a", "b"])
    assert several is not None and several.site is None
    named = intents.parse("Autarkie von b gestern?", now=NOW, timezone=TZ, sites=["a", "b"])
    assert named is not None and (named.site, named.lang) == ("b", "de")


def test_dates_outside_stored_years_are_not_periods() -> None:
    assert intents.parse_period("autarky on 0001-01-01", now=NOW, timezone=TZ) is None
    assert intents.parse_period("costs in November 0001", now=NOW, timezone=TZ) is None
    assert intents.parse_period("letzte 999 Tage", now=NOW, timezone=TZ) is not None  # capped at 366
