"""Deterministic parser for the common site-data questions (German and English), used without an LLM.

`parse(question, now=..., timezone=..., sites=...)` returns the intent (which tool answers it), the
period (site-calendar days turned into a UTC range) and the site, or None when the question is not
about the site's data (the document path answers it). `now` is always passed in: the parser never
reads the wall clock, so the same question on the same `now` parses the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Intent = Literal[
    "autarky",
    "self_consumption",
    "consumption",
    "import",
    "peak",
    "kpis",
    "bill",
    "bill_why",
    "prices",
    "charge",
    "forecast",
    "alerts",
    "rules",
    "whatif",
]
Lang = Literal["de", "en"]

# Intent -> the tool that answers it (tools.REGISTRY names).
TOOL_OF: dict[Intent, str] = {
    "autarky": "site_kpis",
    "self_consumption": "site_kpis",
    "consumption": "site_kpis",
    "import": "site_kpis",
    "peak": "site_kpis",
    "kpis": "site_kpis",
    "bill": "site_kpis",
    "bill_why": "compare_periods",
    "prices": "price_hours",
    "charge": "optimiser_plan",
    "forecast": "forecast",
    "alerts": "open_alerts",
    "rules": "list_rules",
    "whatif": "what_if",
}

# Checked in this order: the first intent with a matching word wins (more specific ones first).
_INTENT_WORDS: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (
        "whatif",
        (r"what if", r"was wäre", r"was waere", r"wenn ich .*hätte", r"if i had", r"what would .* save"),
    ),
    ("charge", (r"\b(auf)?laden\b", r"\blade\b", r"\bcharge\b", r"\bcharging\b", r"\bbatterie laden")),
    ("alerts", (r"\balarm", r"\balert", r"\bwarnung", r"\bstörung", r"\bmeldungen\b")),
    ("rules", (r"\bregel", r"\brules?\b")),
    ("forecast", (r"prognose", r"forecast", r"vorhersage", r"\bwill\b.*\b(produce|use|consume)", r"erwart")),
    (
        "prices",
        (
            r"preis",
            r"\bprices?\b",
            r"günstigste",
            r"cheapest",
            r"billigste",
            r"teuerste stunde",
            r"most expensive hour",
        ),
    ),
    ("autarky", (r"autark", r"self[- ]sufficien", r"unabhängig")),
    ("self_consumption", (r"eigenverbrauch", r"self[- ]consumption", r"eigennutzung")),
    (
        "bill",
        (
            r"rechnung",
            r"\bkosten\b",
            r"\bbill\b",
            r"\bcosts?\b",
            r"\bbezahlt",
            r"\bpaid\b",
            r"\bspent?\b",
            r"\bteuer\b",
            r"expensive",
            r"stromkosten",
        ),
    ),
    ("peak", (r"lastspitze", r"spitzenlast", r"\bpeak", r"höchste last", r"highest load")),
    ("import", (r"netzbezug", r"\bbezogen", r"\bimport", r"from the grid", r"aus dem netz")),
    ("consumption", (r"verbrauch", r"\bconsum", r"\bused\b", r"\buse\b.*kwh", r"how much energy")),
    ("kpis", (r"\bkpis?\b", r"kennzahlen", r"\bproduziert", r"\bproduced\b", r"\bpv[- ]ertrag")),
)
_WHY = re.compile(r"\b(warum|wieso|weshalb|why|how come)\b")
# A question about the site, not about a document: a possessive or the site's own words.
_SITE_WORDS = re.compile(
    r"\b(mein\w*|unser\w*|my|our|ich|mir|mich|uns|i|me|us|we|wir|site|anlage|standort|haus|house|home)\b"
)
_GENERAL = re.compile(
    r"\b(was ist|was bedeutet|what is|what does|what are|erkläre|explain|define|wie funktioniert|how does)\b"
)

_MONTHS: dict[str, int] = {
    "januar": 1,
    "jänner": 1,
    "january": 1,
    "jan": 1,
    "februar": 2,
    "february": 2,
    "feb": 2,
    "märz": 3,
    "maerz": 3,
    "march": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "may": 5,
    "juni": 6,
    "june": 6,
    "juli": 7,
    "july": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "october": 10,
    "okt": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "december": 12,
    "dez": 12,
    "dec": 12,
}
_MONTH_RE = re.compile(
    r"\b(?:im|in|for|für|of|vom|from)?\s*("
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\b\.?(?:\s+(\d{4}))?"
)
_ISO_RE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_LAST_N_DAYS = re.compile(r"\b(?:letzten?|vergangenen|last|past)\s+(\d{1,3})\s+(?:tage?n?|days?)\b")


@dataclass(frozen=True)
class Period:
    """Site-calendar days [first, end) and the same range in UTC; `key` names it ("2026-11-01/2026-12-01")."""

    first: date
    end: date  # exclusive
    ts_from: datetime
    ts_to: datetime
    timezone: str

    @property
    def key(self) -> str:
        return f"{self.first.isoformat()}/{self.end.isoformat()}"

    @property
    def label(self) -> str:
        """ "2026-11-01…2026-11-30" (the last day inclusive), as a citation names it."""
        last = self.end - timedelta(days=1)
        return (
            self.first.isoformat() if last == self.first else f"{self.first.isoformat()}…{last.isoformat()}"
        )

    def previous(self) -> Period:
        """The period before: the previous calendar month for a whole month, else the same length."""
        tz = ZoneInfo(self.timezone)
        if self.first.day == 1 and self.end.day == 1 and (self.end.month - self.first.month) % 12 == 1:
            return days((self.first - timedelta(days=1)).replace(day=1), self.first, tz)
        return days(self.first - (self.end - self.first), self.first, tz)


def days(first: date, end: date, tz: ZoneInfo) -> Period:
    """Local days [first, end) of `tz` as a UTC range (DST days have 23 or 25 hours)."""
    start = datetime.combine(first, time(), tzinfo=tz).astimezone(UTC)
    stop = datetime.combine(end, time(), tzinfo=tz).astimezone(UTC)
    return Period(first=first, end=end, ts_from=start, ts_to=stop, timezone=tz.key)


@dataclass(frozen=True)
class ParsedQuestion:
    intent: Intent
    tool: str
    lang: Lang
    period: Period | None  # None: the question named no period (the tool's default applies)
    site: str | None  # None: no site could be chosen (several sites, none named)
    sites: tuple[str, ...]


def language(question: str) -> Lang:
    words = set(re.findall(r"[a-zäöüß]+", question.lower()))
    german = {
        "ich",
        "mein",
        "meine",
        "wann",
        "warum",
        "wie",
        "der",
        "die",
        "das",
        "ist",
        "war",
        "letzte",
        "letzten",
        "gestern",
        "heute",
        "morgen",
        "im",
        "und",
        "soll",
        "hoch",
        "viel",
        "wo",
    }
    if words & german or re.search(r"[äöüß]", question.lower()):
        return "de"
    return "en"


def parse_intent(question: str) -> Intent | None:
    text = question.lower()
    for intent, patterns in _INTENT_WORDS:
        if any(re.search(p, text) for p in patterns):
            if intent == "bill" and _WHY.search(text):
                return "bill_why"
            return intent
    return None


def parse_period(question: str, *, now: datetime, timezone: str) -> Period | None:
    """The period a question names, in the site calendar `timezone`, relative to `now` (aware)."""
    tz = ZoneInfo(timezone)
    text = question.lower()
    today = now.astimezone(tz).date()
    isos = [date.fromisoformat(d) for d in _ISO_RE.findall(text) if _valid_iso(d)]
    if len(isos) >= 2:
        return days(min(isos[0], isos[1]), max(isos[0], isos[1]) + timedelta(days=1), tz)
    if len(isos) == 1:
        return days(isos[0], isos[0] + timedelta(days=1), tz)
    if m := _LAST_N_DAYS.search(text):
        n = max(1, min(int(m.group(1)), 366))
        return days(today - timedelta(days=n), today, tz)
    monday = today - timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    relative: tuple[tuple[str, tuple[date, date]], ...] = (
        (r"\bvorgestern\b|day before yesterday", (today - timedelta(days=2), today - timedelta(days=1))),
        (r"\bgestern\b|\byesterday\b", (today - timedelta(days=1), today)),
        (r"\bübermorgen\b|day after tomorrow", (today + timedelta(days=2), today + timedelta(days=3))),
        (r"\bmorgen\b|\btomorrow\b", (today + timedelta(days=1), today + timedelta(days=2))),
        (r"\bheute\b|\btoday\b", (today, today + timedelta(days=1))),
        (
            r"\b(letzte|letzten|vergangene|vergangenen|vorige|vorigen)\s+woche\b|\b(last|past|previous)\s+week\b",
            (monday - timedelta(days=7), monday),
        ),
        (r"\b(diese|dieser|diesen)\s+woche\b|\bthis week\b", (monday, today + timedelta(days=1))),
        (
            r"\b(letzte|letzten|vergangene|vergangenen|vorige|vorigen|letzter)\s+monat\b|\b(last|past|previous)\s+month\b",
            ((month_start - timedelta(days=1)).replace(day=1), month_start),
        ),
        (r"\b(diese|dieser|diesen)\s+monat\b|\bthis month\b", (month_start, today + timedelta(days=1))),
        (
            r"\b(letztes|vergangenes|voriges)\s+jahr\b|\blast year\b",
            (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        ),
        (r"\b(dieses)\s+jahr\b|\bthis year\b", (date(today.year, 1, 1), today + timedelta(days=1))),
    )
    for pattern, (first, end) in relative:
        if re.search(pattern, text):
            return days(first, end, tz)
    for m in _MONTH_RE.finditer(text):
        name, year = m.group(1), m.group(2)
        # Short forms ("mai", "may", "apr") only with a preposition or a year: "may" is also a verb.
        if len(name) <= 4 and name not in {"juni", "juli", "june", "july", "märz"}:
            before = text[max(0, m.start() - 1) : m.start(1)].strip()
            if not (year or before in {"im", "in", "for", "für", "of", "vom", "from"}):
                continue
        month = _MONTHS[name]
        y = int(year) if year else (today.year if month <= today.month else today.year - 1)
        if y not in _YEARS:
            continue
        first = date(y, month, 1)
        end = date(y + 1, 1, 1) if month == 12 else date(y, month + 1, 1)
        return days(first, end, tz)
    return None


_RELATIVE_WORDS = (
    r"\b(?:vor)?gestern\b|\b(?:day before )?yesterday\b|\b(?:über)?morgen\b|\b(?:day after )?tomorrow\b",
    r"\bheute\b|\btoday\b",
    r"\b(?:letzte[nrs]?|vergangene[ns]?|vorige[ns]?|diese[nrs]?|last|past|previous|this)\s+"
    r"(?:woche|monat|jahr|week|month|year)\b",
)
_LONG_MONTHS = "|".join(m for m in _MONTHS if len(m) > 4 or m in {"juni", "juli", "june", "july", "märz"})
_SHORT_MONTHS = "|".join(
    m for m in _MONTHS if not (len(m) > 4 or m in {"juni", "juli", "june", "july", "märz"})
)
_PERIOD_WORDS = re.compile(
    "|".join(
        [
            r"\b(?:vom|von|from|between|zwischen)?\s*\d{4}-\d{2}-\d{2}"
            r"(?:\s*(?:bis|to|and|und|-|\u2013|\u2026)\s*\d{4}-\d{2}-\d{2})?",
            _LAST_N_DAYS.pattern,
            *_RELATIVE_WORDS,
            # as parse_period: a short month ("may") only after a preposition or before a year
            rf"\b(?:(?:im|in|for|für|of|vom|from)\s+)?(?:{_LONG_MONTHS})\b\.?(?:\s+\d{{4}})?",
            rf"\b(?:im|in|for|für|of|vom|from)\s+(?:{_SHORT_MONTHS})\b\.?(?:\s+\d{{4}})?",
            rf"\b(?:{_SHORT_MONTHS})\b\.?\s+\d{{4}}",
        ]
    ),
    re.IGNORECASE,
)


def without_period(question: str) -> str:
    """The question with the words naming its period taken out ("Why was the bill high in November
    2026?" -> "Why was the bill high ?"): what is left is its topic, which a document can speak to,
    while the period is the data's (no document names it, and it would count as an unknown term)."""
    return " ".join(_PERIOD_WORDS.sub(" ", question).split())


# Dates outside these years are not periods of stored data (and would overflow as UTC instants).
_YEARS = range(1970, 2101)


def _valid_iso(text: str) -> bool:
    try:
        return date.fromisoformat(text).year in _YEARS
    except ValueError:
        return False


def parse_site(question: str, sites: Sequence[str]) -> str | None:
    """The site the question names, else the only site; None when several exist and none is named."""
    text = question.lower()
    named = [s for s in sites if re.search(rf"(?<![\w-]){re.escape(s.lower())}(?![\w-])", text)]
    if len(named) == 1:
        return named[0]
    return sites[0] if len(sites) == 1 else None


def parse(question: str, *, now: datetime, timezone: str, sites: Sequence[str]) -> ParsedQuestion | None:
    """The site-data question in `question`, or None when it is not one (a definition question, or
    no intent word): the document path answers those."""
    text = question.lower()
    intent = parse_intent(question)
    if intent is None:
        return None
    period = parse_period(question, now=now, timezone=timezone)
    site = parse_site(question, sites)
    named_site = any(s.lower() in text for s in sites)
    # "What is autarky?" is a document question; "What was my autarky last week?" is a data one.
    if (
        _GENERAL.search(text)
        and period is None
        and not named_site
        and not _SITE_WORDS.search(_GENERAL.sub("", text))
    ):
        return None
    if period is None and not named_site and not _SITE_WORDS.search(text):
        return None
    return ParsedQuestion(
        intent=intent,
        tool=TOOL_OF[intent],
        lang=language(question),
        period=period,
        site=site,
        sites=tuple(sites),
    )
