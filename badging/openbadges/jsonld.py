"""JSON-LD processing with bundled contexts only: nothing is fetched at run time.

RDF Dataset Canonicalization (RDFC-1.0) for Data Integrity proofs is done by pyoxigraph on a copy
of the document whose remote contexts are replaced by the bundled ones (about twice as fast as
pyld). `pyld_document_loader` serves the same files to pyld, for independent verification.
"""

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pyoxigraph

CONTEXTS_DIR = Path(__file__).resolve().parent.parent / "contexts"

# URL -> bundled file (see badging/contexts/SOURCES.md for provenance).
CONTEXT_FILES = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "2018-credentials-v1.jsonld",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json": "ob-v3p0.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob-v3p0-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob-v3p0-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
}


class UnknownContextError(ValueError):
    """A document names a JSON-LD context that is not bundled (we never fetch one)."""


@cache
def context_document(url: str) -> dict:
    """The bundled JSON-LD context document for a context URL."""
    name = CONTEXT_FILES.get(url.split("#")[0])
    if name is None:
        raise UnknownContextError(f"JSON-LD context {url!r} is not bundled; refusing to fetch it")
    return json.loads((CONTEXTS_DIR / name).read_text(encoding="utf-8"))


def pyld_document_loader(url: str, options=None) -> dict:
    """A pyld document loader that answers only from the bundled contexts."""
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": context_document(url),
    }


def _inline(context):
    if isinstance(context, str):
        return context_document(context)["@context"]
    if isinstance(context, list):
        return [_inline(c) for c in context]
    return context


def _inline_contexts(node):
    """A copy of node where every remote @context is replaced by the bundled context object."""
    if isinstance(node, dict):
        return {k: (_inline(v) if k == "@context" else _inline_contexts(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_contexts(v) for v in node]
    return node


def _canonize_expanded(expanded_json: str) -> str:
    dataset = pyoxigraph.Dataset(pyoxigraph.parse(expanded_json, format=pyoxigraph.RdfFormat.JSON_LD))
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.RDFC_1_0)
    return "".join(sorted(f"{quad} .\n" for quad in dataset))


def canonize_full(document: dict) -> str:
    """RDFC-1.0 canonical N-Quads, processing the (bundled) contexts in full: ~2-4 ms."""
    return _canonize_expanded(json.dumps(_inline_contexts(copy.deepcopy(document))))


# --- Fast path: expansion templates -------------------------------------------------------------
#
# Processing the OB 3.0 context dominates the cost of canonicalising a credential, and every
# credential of one badge class has the same shape: only string values differ (ids, hashes,
# dates). So each shape is expanded once (pyld) with placeholders in place of the string values,
# and later documents of that shape fill the placeholders into the expanded JSON, which parses
# ~15x faster. A value whose meaning depends on the context (type names, @vocab-typed values such
# as achievementType) stays part of the shape. A new shape is checked once against the full
# processing and falls back to it for good if they ever disagree.

_STRUCTURAL_KEYS = {"@context", "type", "@type"}
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*$")


PYLD_DEFAULT_BASE = "http://example.org/base/"
_SLOT_TOKEN = re.compile(r'"xslot(\d+)x"')


def _slot(i: int) -> str:
    return f"xslot{i}x"


def _template(node, values: list, keep: frozenset, path=()):
    """(shape, slotted document): string leaves become placeholders unless structural or kept."""
    if isinstance(node, dict):
        pairs = [
            (k, _template(v, values, keep, (*path, k)) if k not in _STRUCTURAL_KEYS else (v, v))
            for k, v in node.items()
        ]
        return {k: shape for k, (shape, _) in pairs}, {k: slotted for k, (_, slotted) in pairs}
    if isinstance(node, list):
        pairs = [_template(v, values, keep, (*path, i)) for i, v in enumerate(node)]
        return [shape for shape, _ in pairs], [slotted for _, slotted in pairs]
    if isinstance(node, str) and path not in keep:
        values.append((path, node))
        return "\x00", _slot(len(values) - 1)
    return node, node


@dataclass
class _Shape:
    expanded_json: str  # with "xslotNx" placeholders
    id_slots: frozenset  # slots used as IRIs: their values must be absolute IRIs
    verified: bool = False
    broken: bool = False
    quads: "_QuadTemplate | None" = None  # built on first use; then documents of the shape skip parsing


_shapes: dict[str, _Shape] = {}
_keep_by_outline: dict[str, frozenset] = {}


def _outline(document) -> str:
    _shape, _ = _template(document, [], frozenset())
    return json.dumps(_shape, sort_keys=True)


def _build_shape(document: dict, keep: frozenset) -> tuple[_Shape | None, frozenset]:
    from pyld import jsonld as pyld

    _inline_contexts(document)  # raises UnknownContextError before pyld would try to fetch
    values: list = []
    _shape, slotted = _template(document, values, keep)
    expanded = json.dumps(pyld.expand(slotted, {"documentLoader": pyld_document_loader}))
    id_slots, transformed = set(), set()
    for i, (path, _value) in enumerate(values):
        token = _slot(i)
        # pyld resolves the relative placeholder against its default base; an absolute IRI value
        # resolves to itself, so the whole resolved string is the slot.
        resolved = f"{PYLD_DEFAULT_BASE}{token}"
        if f'"@id": "{resolved}"' in expanded:
            expanded = expanded.replace(f'"{resolved}"', f'"{token}"')
            id_slots.add(i)
        elif f'"@value": "{token}"' not in expanded:
            transformed.add(path)  # its meaning depends on the context: keep it in the shape
    if transformed:
        return None, keep | transformed
    return _Shape(expanded_json=expanded, id_slots=frozenset(id_slots)), keep


def _leaves(node, path, out: list):
    """(outline, appended to out: (path, value) of every string leaf outside type/@context keys).
    The outline is the document with those strings replaced by a marker: documents with the same
    outline differ only in those values."""
    if isinstance(node, dict):
        return {k: (v if k in _STRUCTURAL_KEYS else _leaves(v, (*path, k), out)) for k, v in node.items()}
    if isinstance(node, list):
        return [_leaves(v, (*path, i), out) for i, v in enumerate(node)]
    if isinstance(node, str):
        out.append((path, node))
        return "\x00"
    return node


def _outline_strings(node, out: list):
    """_leaves without the paths (the outline determines them): the outline, and the string leaves
    appended to out in the same order."""
    if isinstance(node, dict):
        return {k: (v if k in _STRUCTURAL_KEYS else _outline_strings(v, out)) for k, v in node.items()}
    if isinstance(node, list):
        return [_outline_strings(v, out) for v in node]
    if isinstance(node, str):
        out.append(node)
        return "\x00"
    return node


_paths_by_outline: dict[str, list] = {}


@lru_cache(maxsize=512)
def _keep_text(keep: frozenset) -> str:
    return json.dumps(sorted(map(str, keep)))


def canonize(document: dict) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document (W3C RDF Dataset Canonicalization)."""
    strings: list = []
    outline = json.dumps(_outline_strings(document, strings))
    paths = _paths_by_outline.get(outline)
    if paths is None:
        found: list = []
        _leaves(document, (), found)
        paths = [path for path, _value in found]
        if len(_paths_by_outline) > 512:
            _paths_by_outline.clear()
        _paths_by_outline[outline] = paths
    leaves = list(zip(paths, strings, strict=True))
    keep = _keep_by_outline.get(outline, frozenset())
    kept = [value for path, value in leaves if path in keep]
    values = [(path, value) for path, value in leaves if path not in keep]
    key = outline + json.dumps(kept) + _keep_text(keep)
    shape = _shapes.get(key)
    if shape is None:
        for _attempt in range(5):
            built, new_keep = _build_shape(document, keep)
            if built is not None:
                break
            keep = new_keep
        else:
            built = _Shape(expanded_json="", id_slots=frozenset(), broken=True)
        _keep_by_outline[outline] = keep
        kept = [value for path, value in leaves if path in keep]
        values = [(path, value) for path, value in leaves if path not in keep]
        key = outline + json.dumps(kept) + _keep_text(keep)
        if len(_shapes) > 512:
            _shapes.clear()
        shape = _shapes.setdefault(key, built)
    relative = {values[i][0] for i in shape.id_slots if not _ABSOLUTE_IRI.match(values[i][1])}
    if relative and not shape.broken and not relative <= keep:
        # A value the context turns into an IRI (a term such as proofPurpose's "assertionMethod",
        # or a relative reference): its meaning depends on the value, so it belongs to the shape.
        _keep_by_outline[outline] = keep | relative
        return canonize(document)
    if shape.broken or relative:
        return canonize_full(document)
    if shape.verified and shape.quads is not None and shape.quads.checked and not shape.quads.broken:
        fast = shape.quads.canonize([value for _path, value in values])
        if fast is not None:
            return fast
    # One pass, so that a value which happens to look like a placeholder is never substituted again.
    filled = _SLOT_TOKEN.sub(lambda m: json.dumps(values[int(m.group(1))][1]), shape.expanded_json)
    result = _canonize_expanded(filled)
    if not shape.verified:
        if result != canonize_full(document):
            shape.broken = True
            return canonize_full(document)
        shape.verified = True
    if shape.quads is None:
        shape.quads = _QuadTemplate.build(shape)
    if not shape.quads.checked and not shape.quads.broken:
        # Checked once against the path above: any difference and this shape never uses it (a
        # document only N-degree hashing can label checks nothing; the next one will).
        fast = shape.quads.canonize([value for _path, value in values])
        if fast is not None:
            shape.quads.checked, shape.quads.broken = True, fast != result
    return result


# --- Faster still: canonical N-Quads templates ------------------------------------------------------
#
# Parsing the filled expanded JSON is most of what is left. But it always yields the same quads
# with the values in the same places, so a shape is parsed once with placeholders, and a document
# of that shape fills its values into the quads (escaped as the parser's own terms print them) and
# only relabels the blank nodes, which RDFC-1.0 does by their first-degree hashes (RDFC-1.0 §4.6:
# each blank node's quads with itself as _:a and other blank nodes as _:z, sorted, SHA-256). When
# two blank nodes share a hash (RDFC-1.0 §4.8, N-degree hashing) the document takes the path above.

_VALUE = re.compile("\x01(\\d+)\x01")
_BLANK = re.compile("\x02(\\d+)\x02")
_IRI_SLOT = re.compile(r"<urn:xslot:(\d+)>")
_LITERAL_SLOT = re.compile(r'"xslot(\d+)x"')
_CONTROL = re.compile("[\x00-\x20]")


@lru_cache(maxsize=4096)
def _literal_text(value: str) -> str:
    # A literal's text between its quotes, escaped as N-Quads prints it. Most values (the badge
    # class's and issuer's) are the same in every credential of a badge class.
    return str(pyoxigraph.Literal(value))[1:-1]


@dataclass
class _QuadTemplate:
    text: str  # one quad a line, "\x01N\x01" for value N (inside quotes for a literal), "\x02K\x02" for blank node K
    id_slots: frozenset
    blank_lines: list  # (blank node marker, indexes of the lines that mention it)
    checked: bool = False
    broken: bool = False
    # The text as a str.format template (value N as {0[N]}, blank node K as {1[K]}), and for each
    # blank node K the lines that mention it with K as _:a and the others as _:z: filling is then
    # a C loop, where substituting each marker took a Python call.
    formatted: str = ""
    blank_formats: tuple = ()

    def __post_init__(self) -> None:
        if self.broken:
            return
        lines = [line.replace("{", "{{").replace("}", "}}") for line in self.text.split("\n")]
        lines = [_VALUE.sub(r"{0[\1]}", line) for line in lines]
        self.formatted = "\n".join(_BLANK.sub(r"{1[\1]}", line) for line in lines)

        def mentioning(marker: str, indexes: list[int]) -> str:
            def reference(m: re.Match) -> str:
                return "_:a" if m.group(0) == marker else "_:z"

            return "\n".join(_BLANK.sub(reference, lines[i]) for i in indexes)

        self.blank_formats = tuple(mentioning(marker, indexes) for marker, indexes in self.blank_lines)

    @classmethod
    def build(cls, shape: _Shape) -> "_QuadTemplate":
        def placeholder(m: re.Match) -> str:
            i = int(m.group(1))
            return json.dumps(f"urn:xslot:{i}" if i in shape.id_slots else f"xslot{i}x")

        parsed = _SLOT_TOKEN.sub(placeholder, shape.expanded_json)
        dataset = pyoxigraph.Dataset(pyoxigraph.parse(parsed, format=pyoxigraph.RdfFormat.JSON_LD))
        blanks: dict[str, str] = {}

        def term(value) -> str:
            if isinstance(value, pyoxigraph.BlankNode):
                return blanks.setdefault(value.value, f"\x02{len(blanks)}\x02")
            return str(value)

        lines = []
        for quad in dataset:
            if not isinstance(quad.graph_name, pyoxigraph.DefaultGraph):
                return cls(text="", id_slots=shape.id_slots, blank_lines=[], broken=True)
            line = f"{term(quad.subject)} {term(quad.predicate)} {term(quad.object)}"
            line = _IRI_SLOT.sub(lambda m: f"<\x01{m.group(1)}\x01>", line)
            lines.append(_LITERAL_SLOT.sub(lambda m: f'"\x01{m.group(1)}\x01"', line))
        blank_lines = [(marker, [i for i, line in enumerate(lines) if marker in line]) for marker in blanks.values()]
        return cls(text="\n".join(lines), id_slots=shape.id_slots, blank_lines=blank_lines)

    def canonize(self, values: list[str]) -> str | None:
        """Canonical N-Quads of the shape filled with values, or None when only N-degree hashing can tell."""
        rendered = []
        for i, value in enumerate(values):
            if i in self.id_slots:
                if _CONTROL.search(value):
                    return None
                rendered.append(value)
            else:
                rendered.append(_literal_text(value))
        hashed = []
        for k, mentioning in enumerate(self.blank_formats):
            mentions = set(mentioning.format(rendered).split("\n"))
            digest = hashlib.sha256("".join(sorted(f"{line} .\n" for line in mentions)).encode("utf-8")).hexdigest()
            hashed.append((digest, k))
        hashed.sort()
        if len({digest for digest, _ in hashed}) != len(hashed):
            return None
        labels = [""] * len(hashed)
        for n, (_, k) in enumerate(hashed):
            labels[k] = f"_:c14n{n}"
        relabelled = set(self.formatted.format(rendered, labels).split("\n"))
        return "".join(sorted(f"{line} .\n" for line in relabelled))
