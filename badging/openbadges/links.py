"""Absolute public URLs of the hosted documents (stable: opaque public ids under one base).

OB 2.0 §Hosted verification: the assertion, badge class and issuer must share one origin, so all
of them are built from the same base (PUBLIC_BASE_URL, else the requesting host).
"""

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.urls import reverse


def public_base_url(request=None) -> str:
    """PUBLIC_BASE_URL when configured, else the origin of the current request."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return ""


@lru_cache(maxsize=64)
def _pattern(name: str, keys: tuple[str, ...]) -> str:
    """The URL path with "__key__" placeholders: reverse() once per name, not per document."""
    sample = {key: f"__{key}__" if key != "list_number" else 0 for key in keys}
    path = reverse(f"badging:{name}", kwargs=sample)
    if "list_number" in keys:
        path = path[: path.rindex("/0")] + "/__list_number__" + path[path.rindex("/0") + 2 :]
    return path


@lru_cache(maxsize=64)
def _path_format(name: str, keys: tuple[str, ...]) -> str:
    """_pattern as a str.format template ("__key__" as "{key}"): one C call per URL."""
    path = _pattern(name, tuple(sorted(keys))).replace("{", "{{").replace("}", "}}")
    for key in keys:
        path = path.replace(f"__{key}__", "{" + key + "}")
    return path


@lru_cache(maxsize=256)
def _did_web(issuer_url: str) -> str:
    url = urlsplit(issuer_url)
    segments = [quote(segment, safe="") for segment in url.path.split("/") if segment]
    return ":".join(["did:web", quote(url.netloc.lower(), safe=""), *segments])


@dataclass(frozen=True)
class PublicLinks:
    base: str

    def _url(self, name: str, **kwargs) -> str:
        return self.base + _path_format(name, tuple(kwargs)).format(**kwargs)

    def assertion(self, award_id: str) -> str:
        return self._url("public-assertion", public_id=award_id)

    def assertion_image(self, award_id: str, svg: bool = False) -> str:
        return self._url("public-assertion-image-svg" if svg else "public-assertion-image", public_id=award_id)

    def assertion_ob3_image(self, award_id: str) -> str:
        return self._url("public-assertion-ob3-image", public_id=award_id)

    def assertion_evidence(self, award_id: str) -> str:
        return self._url("public-assertion-evidence", public_id=award_id)

    def credential_json(self, award_id: str) -> str:
        return self._url("public-assertion-ob3", public_id=award_id)

    def credential_jwt(self, award_id: str) -> str:
        return self._url("public-assertion-jwt", public_id=award_id)

    def badge_class(self, badge_id: str) -> str:
        return self._url("public-badge", public_id=badge_id)

    def badge_class_image(self, badge_id: str) -> str:
        return self._url("public-badge-image", public_id=badge_id)

    def badge_card(self, badge_id: str) -> str:
        """The 1200×630 preview card of a badge class, for link previews (og:image)."""
        return self._url("public-badge-card", public_id=badge_id)

    def collection(self, collection_id: str) -> str:
        return self._url("public-collection", public_id=collection_id)

    def collection_json(self, collection_id: str) -> str:
        return self._url("public-collection-json", public_id=collection_id)

    def issuer(self, issuer_id: str) -> str:
        return self._url("public-issuer", public_id=issuer_id)

    def issuer_image(self, issuer_id: str) -> str:
        return self._url("public-issuer-image", public_id=issuer_id)

    def issuer_did(self, issuer_id: str) -> str:
        """The issuer's OB 3.0 identifier: a did:web whose document is served at issuer_did_document.

        did:web §3.2 (Read): the method-specific id is the host (a port percent-encoded as %3A)
        followed by the path segments, each ':'-separated; it resolves to https://host/path/did.json.
        """
        return _did_web(self.issuer(issuer_id))

    def issuer_did_document(self, issuer_id: str) -> str:
        return self._url("public-issuer-did", public_id=issuer_id)

    def issuer_verification_method(self, issuer_id: str, kid: str) -> str:
        """A signing key as a DID URL: the issuer's DID document lists it under assertionMethod."""
        return f"{self.issuer_did(issuer_id)}#{kid}"

    def issuer_key(self, issuer_id: str, kid: str) -> str:
        return self._url("public-issuer-key", public_id=issuer_id, kid=kid)

    def status_list(self, issuer_id: str, list_number: int) -> str:
        return self._url("public-status-list", public_id=issuer_id, list_number=list_number)


def public_links(request=None) -> PublicLinks:
    return PublicLinks(public_base_url(request))
