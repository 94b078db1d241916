"""Canvas Credentials (Badgr) API v2: the only code that speaks to it.

When an admin enables a CanvasCredentialsConnection for an issuer, each award of a mapped badge
class is also issued there (POST /v2/badgeclasses/{entityId}/assertions) and its revocation is
propagated (DELETE /v2/assertions/{entityId}). Tokens come from POST /o/token (client credentials
when a client id/secret is set, which Badgr scopes to rw:issuer; else the password grant, which
Badgr gives every scope of the account) and are refreshed on expiry or a 401.

Rules this module keeps (each learnt from badgr-server's behaviour):
- Mapping: one product badge class to one Canvas Credentials badge class per connection. Badgr
  refuses a second live award of a badge class to one email, so two product badge classes on one
  Badgr badge class would collapse into one assertion; an ambiguous mapping is refused.
- Every assertion carries the award's public URL as its evidence URL (the product's marker). An
  existing assertion is adopted only when it carries this award's marker, never by email alone.
- Canvas text is escaped for Badgr's Markdown fields, which refuse "![" and strip HTML-like text.
- A refused request (400 other than a duplicate award, 403, 404 on issue) is permanent: shown, not
  retried. A refused login is not tried again until an admin changes the credentials, since
  Badgr locks the account's logins out for up to an hour after failures.
A failure here never undoes the local award: the Delivery row records it.

One module per part: client (logins, calls, errors, the badge class mapping), markdown, assertions
(push and revoke of one award) and resync. Callers use the names below; a test that patches one of
the parts' names patches it in the part that reads it (e.g. assertions.PAGE_SIZE).
"""

from badging.services.canvas_credentials.assertions import (
    canvas_credentials_failed,
    canvas_credentials_issue,
    canvas_credentials_prepare,
    canvas_credentials_revoke,
)
from badging.services.canvas_credentials.client import (
    CanvasCredentialsError,
    CanvasCredentialsLoginRefused,
    CanvasCredentialsRefused,
    mapping_conflicts,
)
from badging.services.canvas_credentials.markdown import badgr_markdown
from badging.services.canvas_credentials.resync import canvas_credentials_resync, resync_summary

__all__ = [
    "CanvasCredentialsError",
    "CanvasCredentialsLoginRefused",
    "CanvasCredentialsRefused",
    "badgr_markdown",
    "canvas_credentials_failed",
    "canvas_credentials_issue",
    "canvas_credentials_prepare",
    "canvas_credentials_resync",
    "canvas_credentials_revoke",
    "mapping_conflicts",
    "resync_summary",
]
