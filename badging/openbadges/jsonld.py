"""JSON-LD processing with bundled contexts only: nothing is fetched at run time.

RDF Dataset Canonicalization (RDFC-1.0) for Data Integrity proofs is done by pyoxigraph on a copy
of the document whose remote contexts are replaced by the bundled ones (about twice as fast as
pyld). `pyld_document_loader` serves the same files to pyld, for independent verification.
"""

import copy
import json
from functools import cache
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


def canonize(document: dict) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document (W3C RDF Dataset Canonicalization)."""
    inlined = _inline_contexts(copy.deepcopy(document))
    dataset = pyoxigraph.Dataset(pyoxigraph.parse(json.dumps(inlined), format=pyoxigraph.RdfFormat.JSON_LD))
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.RDFC_1_0)
    lines = sorted(f"{quad} .\n" for quad in dataset)
    return "".join(lines)
