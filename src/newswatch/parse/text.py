"""HTML to the text a reader sees: paragraphs made of lines, whitespace collapsed.

Block elements and `<br><br>` end a paragraph; a single `<br>` ends a line inside it.
The walk is iterative, so absurdly nested tag soup cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, PreformattedString, Tag

BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
NON_TEXT_TAGS = frozenset(
    {
        "button", "canvas", "embed", "head", "iframe", "noscript", "object", "script",
        "select", "style", "svg", "template",
    }
)  # fmt: skip
"""Never article text on any site, so not left to the profiles."""


@dataclass(frozen=True)
class Paragraph:
    lines: tuple[str, ...]
    chars: int
    linked_chars: int
    """Characters inside <a href>: a paragraph that is mostly links is navigation."""

    @property
    def link_density(self) -> float:
        return self.linked_chars / self.chars if self.chars else 0.0


class _Collector:
    def __init__(self) -> None:
        self.paragraphs: list[Paragraph] = []
        self._lines: list[str] = []
        self._pieces: list[str] = []
        self._chars = 0
        self._linked_chars = 0

    def add(self, text: str, linked: bool) -> None:
        self._pieces.append(text)
        visible = len("".join(text.split()))
        self._chars += visible
        if linked:
            self._linked_chars += visible

    def line_break(self) -> None:
        """A <br>: ends the line, or the paragraph when the line is empty (<br><br>)."""
        if not self._end_line() and self._lines:
            self.paragraph_break()

    def paragraph_break(self) -> None:
        self._end_line()
        if self._lines:
            self.paragraphs.append(Paragraph(tuple(self._lines), self._chars, self._linked_chars))
        self._lines = []
        self._chars = self._linked_chars = 0

    def _end_line(self) -> bool:
        line = " ".join("".join(self._pieces).split())
        self._pieces = []
        if line:
            self._lines.append(line)
        return bool(line)


def paragraphs(roots: Iterable[PageElement], skip: Collection[int] = ()) -> list[Paragraph]:
    """The paragraphs of `roots` in document order, leaving out the elements whose id() is in
    `skip` (parts already taken for something else, or removed by the profile)."""
    out = _Collector()
    stack: list[tuple[PageElement, bool, bool]] = [(root, False, False) for root in roots]
    stack.reverse()
    while stack:
        node, linked, closing = stack.pop()
        if closing:
            out.paragraph_break()
        elif id(node) in skip:
            continue
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                out.add(str(node), linked)
        elif isinstance(node, Tag) and node.name not in NON_TEXT_TAGS:
            if node.name == "br":
                out.line_break()
                continue
            if node.name in BLOCK_TAGS:
                out.paragraph_break()
                stack.append((node, linked, True))
            inner_linked = linked or (node.name == "a" and node.has_attr("href"))
            stack.extend((child, inner_linked, False) for child in reversed(node.contents))
    out.paragraph_break()
    return out.paragraphs


def single_line(roots: Iterable[PageElement], skip: Collection[int] = ()) -> str:
    """All the text of `roots` on one line (titles, summaries, ticker teasers)."""
    return " ".join(line for paragraph in paragraphs(roots, skip) for line in paragraph.lines)


def text_lines(roots: Iterable[PageElement]) -> str:
    """The text of `roots` one line per line, for patterns anchored with ^ and $."""
    return "\n".join(line for paragraph in paragraphs(roots) for line in paragraph.lines)
