"""The book's text, checked like code (no build needed): every chapter has exercises with worked
solutions, cites the bibliography, links other chapters with MyST references rather than
numbers, and keeps code lines short enough not to scroll."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from test_book import BOOK, _read, chapters

BIB_KEYS = set(re.findall(r"@\w+\{(\w+),", (BOOK / "references.bib").read_text()))
DOCS = {p.stem for p in BOOK.glob("*.md")}
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")
DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")


def _markdown(chapter) -> str:
    return "\n".join(c.source for c in _read(chapter).cells if c.cell_type == "markdown")


@pytest.mark.parametrize("chapter", chapters(), ids=lambda p: p.stem)
def test_every_exercise_has_a_worked_solution(chapter):
    text = _markdown(chapter)
    assert "## Exercises" in text, "a chapter ends with exercises"
    exercises = text.split("## Exercises", 1)[1]
    asked = re.findall(r"^\d+\. ", exercises, flags=re.M)
    solved = re.findall(r"^:::\{admonition\} Solution\n:class: dropdown", exercises, flags=re.M)
    assert len(asked) >= 3
    assert len(solved) >= len(asked), f"{len(asked)} exercises, {len(solved)} solutions"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda p: p.stem)
def test_citations_resolve_and_every_chapter_cites(chapter):
    keys = [k.strip() for group in CITE.findall(_markdown(chapter)) for k in group.split(",")]
    assert keys, "cite at least one work of the bibliography"
    assert set(keys) <= BIB_KEYS, f"unknown keys {set(keys) - BIB_KEYS}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda p: p.stem)
def test_chapters_are_linked_not_numbered(chapter):
    text = _markdown(chapter)
    numbered = re.findall(r"\b[Cc]hapters? \d+", text)
    assert not numbered, f"write {{doc}} references, not numbers: {numbered}"
    targets = DOC.findall(text)
    assert set(targets) <= DOCS, f"{{doc}} to missing pages: {set(targets) - DOCS}"
    assert targets or chapter.stem == "00_setup_and_tour", "link the chapters it builds on"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda p: p.stem)
def test_code_lines_fit_the_page(chapter):
    long = [
        line
        for cell in _read(chapter).cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > 88
    ]
    assert not long, f"code lines over 88 characters scroll in the book: {long[:3]}"


def test_the_bibliography_lists_every_entry():
    assert ":all:" in (BOOK / "bibliography.md").read_text()
    assert (ROOT / "jupyter_book.yml").read_text().count("references.bib") == 1
