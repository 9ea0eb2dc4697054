"""Student-controlled HTML made inert: the kit's allow-list, applied with nh3 (Ammonia).

What a student writes (markdown answers) and what their code displays while graded (HTML,
SVG, markdown and JavaScript outputs, image metadata, cell tags) reaches pages other people
open in their own browser: the formgrader's grading page in the instructor's Jupyter
origin, the feedback page the instructor, TAs and the student open. Everything on those
pages that came from a student passes through `inert_html` first (the kit's templates,
dropout_kit/pages/templates/).

Kept: what markdown and matplotlib produce for people to read — headings, paragraphs,
lists, tables with thead/th (and their text-align), code, emphasis, quotes, links to
http(s) and mailto, images whose source is a data:image/* URI (plots), MathML's presentation
elements (the feedback's formulas, math.py), and the classes nbconvert's own output markup,
pygments and ANSI colours use. Removed: scripts and their
text, styles (elements and attributes, except a table cell's text-align), event handler
attributes, iframe/object/embed/form/input/base/meta/link/svg, every other URL (a
relative or javascript: link, an image loaded from anywhere), and classes outside the
allow-list (the page's layout classes, such as bootstrap's modal or navbar-fixed-top, would
let a student lay fake controls over the grading page). Ids are prefixed (`user-content-`,
as GitHub does) and so are the fragment links to them, so that a student's heading cannot
shadow an element the page's scripts look up by id.

nbconvert's `sanitize_html` is not used: nbgrader's templates never apply it to markdown,
and its allow-list turns headings, paragraphs, table headers and data-URI images into text.
"""
from __future__ import annotations

import re

import nh3
from pygments.token import STANDARD_TYPES

ID_PREFIX = "user-content-"

TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "div", "span", "blockquote",
    "ul", "ol", "li", "dl", "dt", "dd",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
    "pre", "code", "kbd", "samp", "var", "em", "strong", "b", "i", "u", "s", "del", "ins",
    "sub", "sup", "small", "mark", "abbr", "details", "summary", "figure", "figcaption",
    "a", "img",
}
# MathML's presentation elements, for formulas (no links, styles or actions among them).
MATHML = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup",
    "mfrac", "msqrt", "mroot", "munder", "mover", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "semantics",
}
# Removed with everything inside them (the other disallowed tags keep their text).
CONTENT_REMOVED = {"script", "style", "template", "noscript", "iframe", "object", "embed",
                   "svg", "textarea", "select", "title", "annotation", "annotation-xml"}

ATTRIBUTES = {
    "*": {"id", "class", "lang", "title", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan", "style"},
    "td": {"colspan", "rowspan", "style"},
    "ol": {"start"},
    "abbr": {"title"},
    "math": {"display", "xmlns"},
    "mi": {"mathvariant"}, "mn": {"mathvariant"}, "mtext": {"mathvariant"},
    "mo": {"mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "largeop",
           "movablelimits", "accent", "form"},
    "mover": {"accent"}, "munder": {"accentunder"}, "munderover": {"accent", "accentunder"},
    "mfrac": {"linethickness"}, "mspace": {"width", "height", "depth"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mtable": {"columnalign", "rowspacing", "columnspacing"}, "mtd": {"columnalign"},
    "menclose": {"notation"},
}
STYLE_PROPERTIES = {"text-align"}  # markdown tables' column alignment

# Classes kept: nbconvert's output markup, pygments' token classes, ANSI colours. Exact
# names, or the families of names below; everything else is dropped from class="…".
CLASSES = {
    "output_area", "output_subarea", "output_stream", "output_stdout", "output_stderr",
    "output_text", "output_error", "output_execute_result", "output_html", "output_svg",
    "output_png", "output_jpeg", "output_latex", "output_markdown", "output_javascript",
    "output_widget_view", "rendered_html", "prompt", "output_prompt", "input_prompt",
    "unconfined", "anchor-link", "highlight", "input_area", "inner_cell",
    *(name for name in STANDARD_TYPES.values() if name),
}
CLASS_FAMILIES = re.compile(r"(ansi-[a-z-]+|hl-[\w+#-]+)")

IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml)[;,]", re.IGNORECASE)
LINK = re.compile(r"(https?:|mailto:)", re.IGNORECASE)
DIMENSION = re.compile(r"\d{1,5}(\.\d+)?(px|%)?")


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "class":
        kept = [c for c in value.split() if c in CLASSES or CLASS_FAMILIES.fullmatch(c)]
        return " ".join(kept) or None
    if tag == "img" and name == "src":
        return value if IMAGE_DATA.match(value) else None
    if tag == "img" and name in ("width", "height"):
        return value if DIMENSION.fullmatch(value.strip()) else None
    if tag == "a" and name == "href":
        return value if LINK.match(value) or value.startswith("#") else None
    return value


def _relative_url(url: str) -> str | None:
    """Fragment links follow their target's prefixed id; other relative URLs are removed."""
    return f"#{ID_PREFIX}{url[1:]}" if url.startswith("#") and len(url) > 1 else None


_CLEANER = nh3.Cleaner(
    tags=TAGS | MATHML,
    clean_content_tags=CONTENT_REMOVED,
    attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
    attribute_filter=_attribute,
    generic_attribute_prefixes=set(),
    url_schemes={"http", "https", "mailto", "data"},
    url_relative=_relative_url,
    filter_style_properties=STYLE_PROPERTIES,
    id_prefix=ID_PREFIX,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


NO_ALT = re.compile(r"<img(?![^>]*\salt=)")


def inert_html(html) -> str:
    """`html` (a student's, or markup around it) with only the allow-list above left; an
    image without an alternative text gets an empty one (nbconvert would write its own and
    log a warning). The kit's templates use it as the Jinja filter `inert_html`."""
    return NO_ALT.sub('<img alt=""', _CLEANER.clean(str(html or "")))
