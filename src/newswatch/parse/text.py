"""HTML to the text a reader sees: paragraphs made of lines, whitespace collapsed.

Block elements and `<br><br>` end a paragraph; a single `<br>` ends a line inside it.
The walk is iterative, so absurdly nested tag soup cannot exhaust the stack.

Pages are parsed by lxml (libxml2's HTML parser, the one BeautifulSoup's "lxml" builder
drives too), whose elements are built in C: a BeautifulSoup tree and its `select` of a
profile's selectors cost about 7 times a whole parse (scripts/bench_html_parsers.py).
In lxml, text is not a node of its own: an element's `text` comes before its first child,
and each child's `tail` follows it. A `TextPiece` names one such run of text, so it can be
left out of a walk like an element can.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeGuard

import lxml.html
from lxml import etree

HtmlElement = lxml.html.HtmlElement

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


def parse_html(html: str) -> HtmlElement:
    """The document's root element (an empty <html> when there is nothing to parse).

    The text goes to the parser as UTF-8 bytes, so an XML declaration in it cannot clash
    with its encoding, and lone surrogates become "?" instead of an error.
    """
    data = html.encode("utf-8", "replace")
    parser = lxml.html.HTMLParser(encoding="utf-8")  # one per call: parsers are not shared
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except etree.ParserError:  # nothing but whitespace or comments
        return lxml.html.document_fromstring(b"<html></html>", parser=parser)
    if any(error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log):
        return _parse_deep(data)
    return root


def _parse_deep(data: bytes) -> HtmlElement:
    """libxml2's tree builder drops whatever is nested more than 255 elements deep (tag soup
    of unclosed <font>s gets there); lxml's TreeBuilder, fed the same parse events, does
    not, at a few times the cost. Comments are left out, so that the last top-level node,
    which `close` answers with, is the root element."""
    builder = etree.TreeBuilder(
        parser=lxml.html.HTMLParser(), insert_comments=False, insert_pis=False
    )
    parser = etree.HTMLParser(target=builder, encoding="utf-8")
    parser.feed(data)
    root = parser.close()
    return root if isinstance(root, HtmlElement) else parse_html("")


@dataclass(frozen=True)
class TextPiece:
    """The text right inside `owner`, before its first child (`tail` False), or the text
    that follows `owner` up to its next sibling (`tail` True)."""

    owner: HtmlElement
    tail: bool

    @property
    def text(self) -> str:
        return (self.owner.tail if self.tail else self.owner.text) or ""


Node = HtmlElement | TextPiece
"""What a walk can start from or leave out: an element (with all inside it) or a text run."""


def is_element(node: object) -> TypeGuard[HtmlElement]:
    """An element proper: not text, nor a comment or processing instruction."""
    return isinstance(node, HtmlElement)


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


_CLOSE = object()
"""Marks the end of a block element on the walk's stack."""


def paragraphs(roots: Iterable[Node], skip: Collection[Node] = ()) -> list[Paragraph]:
    """The paragraphs of `roots` in document order, leaving out the elements and text runs
    in `skip` (parts already taken for something else, or removed by the profile). An
    element's own tail is not part of it."""
    out = _Collector()
    stack: list[tuple[object, bool]] = [(root, False) for root in roots]
    stack.reverse()
    while stack:
        node, linked = stack.pop()
        if node is _CLOSE:
            out.paragraph_break()
        elif isinstance(node, TextPiece):
            if node not in skip:
                out.add(node.text, linked)
        elif isinstance(node, HtmlElement) and node not in skip:
            name = node.tag
            if name in NON_TEXT_TAGS:
                continue
            if name == "br":
                out.line_break()
                continue
            if name in BLOCK_TAGS:
                out.paragraph_break()
                stack.append((_CLOSE, linked))
            inner_linked = linked or (name == "a" and node.get("href") is not None)
            stack.extend(reversed(list(_contents(node, inner_linked))))
    out.paragraph_break()
    return out.paragraphs


def _contents(element: HtmlElement, linked: bool) -> Iterator[tuple[object, bool]]:
    """What is inside an element, in order: its text, then each child and the child's tail
    (which is in the element, so linked as the element's inside is)."""
    if element.text:
        yield TextPiece(element, tail=False), linked
    for child in element:
        yield child, linked
        if child.tail:
            yield TextPiece(child, tail=True), linked


def single_line(roots: Iterable[Node], skip: Collection[Node] = ()) -> str:
    """All the text of `roots` on one line (titles, summaries, ticker teasers)."""
    roots = list(roots)
    if len(roots) == 1 and not skip and _is_plain_text_element(roots[0]):
        # The common case (every link on a page is tried as a ticker line): no walk needed.
        return " ".join((roots[0].text or "").split())
    return " ".join(line for paragraph in paragraphs(roots, skip) for line in paragraph.lines)


def _is_plain_text_element(node: Node) -> TypeGuard[HtmlElement]:
    """An element holding only text, whose one line is that text with spaces collapsed."""
    return (
        is_element(node)
        and len(node) == 0
        and isinstance(node.tag, str)
        and node.tag not in NON_TEXT_TAGS
        and node.tag != "br"
    )


def text_lines(roots: Iterable[Node]) -> str:
    """The text of `roots` one line per line, for patterns anchored with ^ and $."""
    return "\n".join(line for paragraph in paragraphs(roots) for line in paragraph.lines)
