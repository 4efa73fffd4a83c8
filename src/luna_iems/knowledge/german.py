"""German statute handling for retrieval: "§" references as index terms, and compound splitting.

Section terms. A chunk of a statute carries its "§" heading in the heading prefix of its indexed text
("EnWG 2005 > Teil 3 > § 20a Lieferantenwechsel: (1) Bei einem …", see chunking.py). The lexical
analysis adds one reserved term per section number of that heading, "§20a". A query that names a
section ("§ 20a", "§20a", "§§ 20 und 20a", "Paragraph 20a", "Paragraf 20a") gets the same term. The
term contains "§", which tokenisation never produces, so it cannot collide with a word; it is rare
(one section per law, a few laws), so BM25 gives it a high IDF and a query naming "§ 61" puts the
chunks *headed* "§ 61" first, instead of every chunk that mentions "§ 61" in passing. A law named next
to the number ("§ 61 EEG") is an ordinary query term and picks that law's § 61 among the others.

Compound splitting. German writes compounds as one word ("Netzentgeltbefreiung",
"Messstellenbetreiberwechsel"); the law text says "Befreiung von den Netzentgelten" or "Wechsel des
Messstellenbetreibers", so the compound's stem is not in the index and BM25 finds nothing for it.
`split_compound` splits a query word into parts whose stems *are* in the index vocabulary (Koehn and
Knight 2003: among the splits into the fewest known parts, the one with the highest geometric mean of
document frequencies; linking elements "s", "es", "n", "en", "e" between parts are allowed). The index
vocabulary is the dictionary: it is the customer's own language, needs no word list in the package,
and a part that is not in the index could not match anything anyway. Only query words whose own stem
is unknown to the index are split, so words the documents use as written are left alone.

Law names. A statute's chunks carry its short label in their heading prefix ("MessbG > § 3 …", see
chunking.document_label), but people name laws by other forms: the Messstellenbetriebsgesetz is
labelled "MessbG" by its own text (gesetze-im-internet.de) and "MsbG" almost everywhere else; a
question may write the full name ("des Energiewirtschaftsgesetzes") or a year ("EEG 2023").
`law_alias_words` maps a law named in a query, by any form in `LAW_NAMES`, to all its short forms, so
the query gets the label the chunks carry. Short forms are matched as whole words (case-insensitive),
full names anywhere in the query with spaces, hyphens and inflection ignored ("Erneuerbare-Energien-
Gesetzes"). The table is general knowledge of German energy law, not tuned to any question set.

Everyday words (2026-12-06). Questions say "Smart Meter", "Stromanbieter", "Beschwerde"; the laws say
"intelligentes Messsystem", "Lieferant", "Verbraucherbeschwerde". `everyday_expansions` gives the
statute's words for a query's everyday words (EVERYDAY_TERMS); retrieval adds them, and the index
compounds ending in a query word (lexical.compound_heads), to German queries at a lower weight.

Why no library: the maintained German splitters on PyPI either need Python 3.12 (charsplit-fst),
are unmaintained since 2020 with their own frequency list (compound-split), or ship large
dictionaries (hunspell-based); none knows the customer's vocabulary, which is what matters here.
Stemming stays with PyStemmer's Snowball German (see lexical.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

SECTION_TERM_PREFIX = "§"
MIN_COMPOUND_LENGTH = 10  # shorter words are rarely compounds of two known parts
MIN_PART_LENGTH = 4  # "netz", "gas", … : 3-letter parts split too eagerly ("ein", "lei")
MAX_PARTS = 3
LINKING_ELEMENTS = ("", "s", "es", "n", "en", "e")

# "§ 61", "§61", "§§ 46a bis 47", "§ 61 Abs. 2", "Paragraph 61", "Paragraf 61a", "Par. 61"
_QUERY_SECTION = re.compile(
    r"(?:§§?|\b[Pp]aragra(?:ph|f)(?:en)?\b|\b[Pp]ar\.)\s*"
    r"(\d{1,4}[a-z]?\b(?:\s*(?:,|und|bis|-|\u2013|sowie|oder)\s*\d{1,4}[a-z]?\b)*)"
)
_NUMBER = re.compile(r"\d{1,4}[a-z]?\b")
_HEADING_SECTION = re.compile(
    r"^(?:\([^)]*\)\s*)?§§?\s*(\d{1,4}[a-z]?\b(?:\s*(?:bis|und|-|\u2013|,)\s*\d{1,4}[a-z]?\b)*)"
)


def section_term(number: str) -> str:
    """The reserved index term of a section number: '61a' -> '§61a'."""
    return f"{SECTION_TERM_PREFIX}{number.casefold()}"


def query_section_terms(query: str) -> list[str]:
    """Section terms of the sections a query names ("§ 61", "Paragraph 14a", "§§ 20 und 20a")."""
    terms: list[str] = []
    for match in _QUERY_SECTION.finditer(query):
        terms.extend(section_term(n) for n in _NUMBER.findall(match.group(1)))
    return list(dict.fromkeys(terms))


def heading_section_terms(heading: str) -> list[str]:
    """Section terms of a heading that *is* a section: '§ 20a Lieferantenwechsel' -> ['§20a']."""
    match = _HEADING_SECTION.match(heading.strip())
    if match is None:
        return []
    return [section_term(n) for n in _NUMBER.findall(match.group(1))]


def prefix_section_terms(text: str, *, heading_separator: str, prefix_separator: str) -> list[str]:
    """Section terms of the innermost heading of a chunk's heading prefix ("A > B > § 3 X: body").

    A text without a heading prefix, or whose innermost heading is no section, gives none.
    """
    head, sep, _ = text.partition(prefix_separator)
    if not sep or "\n" in head:
        return []
    innermost = head.rsplit(heading_separator, 1)[-1]
    return heading_section_terms(innermost)


# Everyday words for what German energy law names otherwise: (everyday forms, the statute's words). A
# question says "Smart Meter", "Stromanbieter", "PV-Anlage", "Vermieter"; the laws say "intelligentes
# Messsystem", "Lieferant", "Solaranlage", "Anschlussnehmer". General vocabulary of the field (what
# consumer advice pages explain), not taken from any question set; see `everyday_expansions`.
EVERYDAY_TERMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("smartmeter", "smart meter", "intelligenter zähler"), "intelligentes Messsystem"),
    (("zähler", "stromzähler", "gaszähler", "wärmezähler"), "Messeinrichtung Messstelle"),
    (
        ("zählerbetreiber", "zählerdienstleister", "messdienstleister", "zählerbetrieb"),
        "Messstellenbetreiber Messstellenbetrieb",
    ),
    (
        ("anbieter", "versorger", "stromanbieter", "gasanbieter", "stromversorger", "energieversorger"),
        "Lieferant Energielieferant",
    ),
    (("anbieterwechsel", "versorgerwechsel", "stromwechsel"), "Lieferantenwechsel"),
    (("schlussrechnung", "endabrechnung", "schlussabrechnung"), "Abschlussrechnung"),
    (
        ("photovoltaik", "pv", "solardach", "balkonkraftwerk", "solarmodul"),
        "Solaranlage solare Strahlungsenergie",
    ),
    (("windrad", "windräder", "windkraftanlage", "windkraft", "windpark"), "Windenergieanlage Windenergie"),
    (("elektroauto", "autos", "auto", "wallbox"), "Elektromobil Ladepunkt"),
    (("ladesäule", "ladesäulen", "ladestation"), "Ladepunkt"),
    (("wärmepumpe", "nachtspeicher"), "steuerbare Verbrauchseinrichtung"),
    (("mieter", "bewohner"), "Anschlussnutzer Letztverbraucher"),
    (("vermieter", "hauseigentümer", "eigentümer", "hausbesitzer"), "Anschlussnehmer"),
    (("haushalt", "privatkunde", "privathaushalt"), "Haushaltskunde Letztverbraucher"),
    (("kunde", "kunden", "stromkunde", "verbraucher"), "Letztverbraucher"),
    (("stadt", "kommune", "kommunal"), "Gemeinde"),
    (("straße", "straßen", "gehweg"), "öffentliche Verkehrswege"),
    (("stromleitung", "kabel"), "Leitung"),
    (("hausanschluss",), "Netzanschluss"),
    (("ökostrom", "grünstrom"), "Strom aus erneuerbaren Energien"),
    (("förderung", "gefördert"), "Zahlungsanspruch"),
    (("genossenschaft", "bürgerenergie"), "Bürgerenergiegesellschaft"),
    (("sperre", "stromsperre", "abstellen", "abgestellt", "abschalten"), "Versorgungsunterbrechung"),
    (("gebühr", "gebühren"), "Entgelt"),
    (("netzgebühr", "netzgebühren"), "Netzentgelt"),
    (("strompreis", "stromtarif"), "Tarif"),
    (("pleite", "insolvent", "insolvenz"), "Ausfall"),
    (("speicher", "batterie", "batteriespeicher", "heimspeicher"), "Energiespeicheranlage Speicher"),
    (("stromausfall", "blackout"), "Versorgungsstörung Unterbrechung"),
    (("marktstammdatenregister",), "Register"),
    (("eigenverbrauch", "selbstverbrauch", "selbstverbraucht"), "Eigenversorgung"),
    (("mehrfamilienhaus", "wohnhaus", "mietshaus"), "Liegenschaft Gebäude"),
)
_EVERYDAY: dict[str, str] = {form.casefold(): words for forms, words in EVERYDAY_TERMS for form in forms}


def everyday_expansions(query: str) -> list[str]:
    """The statute's words for everyday words of a query, from EVERYDAY_TERMS (case-insensitive).

    A form matches a whole word, or the start or end of a compound word of the query ("Stromanbieter"
    ends with "anbieter"); a longer matching form wins over a shorter one inside it, so "Vermieter" is
    the owner, not the tenant ("mieter"). Forms of two words match the phrase."""
    folded = query.casefold()
    found: list[str] = []
    for phrase in (f for f in _EVERYDAY if " " in f):
        if re.search(rf"\b{re.escape(phrase)}", folded):
            found.append(_EVERYDAY[phrase])
    for token in re.findall(r"[^\W\d_]+", folded):
        matches = [f for f in _EVERYDAY if " " not in f and (token.startswith(f) or token.endswith(f))]
        matches = [f for f in matches if len(f) >= 5 or f == token]
        for form in matches:
            if not any(form != other and form in other for other in matches):
                found.append(_EVERYDAY[form])
    return list(dict.fromkeys(found))


# German energy laws: (short forms, full names). The first short form is the usual abbreviation;
# further ones are variants in use (the law's own label on gesetze-im-internet.de may differ).
LAW_NAMES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("EnWG",), ("Energiewirtschaftsgesetz", "Gesetz über die Elektrizitäts- und Gasversorgung")),
    (("EEG",), ("Erneuerbare-Energien-Gesetz", "Gesetz für den Ausbau erneuerbarer Energien")),
    (
        ("MsbG", "MessbG"),
        (
            "Messstellenbetriebsgesetz",
            "Gesetz über den Messstellenbetrieb und die Datenkommunikation in intelligenten Energienetzen",
        ),
    ),
    (("KWKG",), ("Kraft-Wärme-Kopplungsgesetz",)),
    (("GEG",), ("Gebäudeenergiegesetz",)),
    (("EnEV",), ("Energieeinsparverordnung",)),
    (("StromStG",), ("Stromsteuergesetz",)),
    (("StromStV",), ("Stromsteuer-Durchführungsverordnung",)),
    (("EnergieStG",), ("Energiesteuergesetz",)),
    (("StromNEV",), ("Stromnetzentgeltverordnung",)),
    (("StromNZV",), ("Stromnetzzugangsverordnung",)),
    (("GasNEV",), ("Gasnetzentgeltverordnung",)),
    (("GasNZV",), ("Gasnetzzugangsverordnung",)),
    (("StromGVV",), ("Stromgrundversorgungsverordnung",)),
    (("GasGVV",), ("Gasgrundversorgungsverordnung",)),
    (("NAV",), ("Niederspannungsanschlussverordnung",)),
    (("NDAV",), ("Niederdruckanschlussverordnung",)),
    (("ARegV",), ("Anreizregulierungsverordnung",)),
    (("KAV",), ("Konzessionsabgabenverordnung",)),
    (("MessZV",), ("Messzugangsverordnung",)),
    (("EnFG",), ("Energiefinanzierungsgesetz",)),
    (("EnSiG",), ("Energiesicherungsgesetz",)),
    (("EnEfG",), ("Energieeffizienzgesetz",)),
    (("WindSeeG",), ("Windenergie-auf-See-Gesetz",)),
    (("WindBG",), ("Windenergieflächenbedarfsgesetz",)),
    (("NABEG",), ("Netzausbaubeschleunigungsgesetz",)),
    (("EnLAG",), ("Energieleitungsausbaugesetz",)),
    (("BBPlG",), ("Bundesbedarfsplangesetz",)),
    (("BEHG",), ("Brennstoffemissionshandelsgesetz",)),
    (("TEHG",), ("Treibhausgas-Emissionshandelsgesetz",)),
    (("StromPBG",), ("Strompreisbremsegesetz",)),
    (("EWPBG",), ("Erdgas-Wärme-Preisbremsengesetz",)),
    (("WPG",), ("Wärmeplanungsgesetz",)),
    (("MessEG",), ("Mess- und Eichgesetz",)),
    (("MessEV",), ("Mess- und Eichverordnung",)),
)
_LETTERS = re.compile(r"[^\W\d_]+")


def _squash(text: str) -> str:
    """Letters only, case-folded: 'Erneuerbare-Energien-Gesetzes' -> 'erneuerbareenergiengesetzes'."""
    return "".join(_LETTERS.findall(text.casefold()))


_SHORT_FORMS: dict[str, tuple[str, ...]] = {}
_FULL_NAMES: list[tuple[str, tuple[str, ...]]] = []
for _short, _full in LAW_NAMES:
    _forms = tuple(f.casefold() for f in _short)
    for _form in _forms:
        _SHORT_FORMS[_form] = _forms
    _FULL_NAMES.extend((_squash(name), _forms) for name in _full)


def law_alias_words(query: str) -> list[str]:
    """Every short form of the laws a query names ("MsbG", "Messstellenbetriebsgesetzes", …), case-folded:
    'Was regelt § 3 MsbG?' -> ['msbg', 'messbg']. A query naming no law in LAW_NAMES gives []."""
    found: list[str] = []
    for token in re.findall(r"[^\W_]+", query.casefold()):
        found.extend(_SHORT_FORMS.get(token, ()))
    squashed = _squash(query)
    for name, forms in _FULL_NAMES:
        if name in squashed:
            found.extend(forms)
    return list(dict.fromkeys(found))


def split_compound(word: str, *, stem: Callable[[str], str], df: Callable[[str], int]) -> list[str]:
    """Stems of the parts of a German compound, or [] if it does not split into known parts.

    `word` is case-folded; `stem` maps a part to its index term; `df` is that term's document
    frequency in the index (0 = unknown). See the module docstring for the method.
    """
    if len(word) < MIN_COMPOUND_LENGTH or not word.isalpha():
        return []
    best: tuple[int, float, list[str]] | None = None
    for parts in _segmentations(word, MAX_PARTS):
        terms = [stem(p) for p in parts]
        counts = [df(t) for t in terms]
        if min(counts) == 0:
            continue
        score = math.exp(sum(math.log(c) for c in counts) / len(counts))
        key = (-len(parts), score)
        if best is None or key > best[:2]:
            best = (key[0], key[1], terms)
    return best[2] if best is not None else []


def _segmentations(word: str, max_parts: int) -> Iterable[list[str]]:
    """Every split of `word` into 2..max_parts parts of at least MIN_PART_LENGTH letters; a linking
    element at the end of a non-final part is dropped from that part ("betriebs" -> "betrieb")."""
    if max_parts < 2:
        return
    for cut in range(MIN_PART_LENGTH, len(word) - MIN_PART_LENGTH + 1):
        head, tail = word[:cut], word[cut:]
        heads = {head[: len(head) - len(link)] for link in LINKING_ELEMENTS if head.endswith(link)}
        heads = {h for h in heads if len(h) >= MIN_PART_LENGTH}
        rests: list[list[str]] = [[tail]]
        rests.extend(_segmentations(tail, max_parts - 1))
        for h in sorted(heads):
            for rest in rests:
                yield [h, *rest]
