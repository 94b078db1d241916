"""The only code that touches pylti1p3: tool configuration from our models, OIDC login, launch, and
the service connector for LTI Advantage calls from workers.

- `tool_conf`: pylti1p3 registrations and deployments read from our models;
- `oidc`: the OIDC login and the launch it leads to;
- `connector`: NRPS/AGS calls with a shared access token.

pylti1p3 2.0.0 leaves gaps that this package closes (reference/lti-canvas.md §A):
- every HTTP call goes through the guarded outbound client (lti.platform_http): a timeout,
  no redirects, no internal addresses, the checked address is the one connected to;
- the platform JWKS is read through lti.keyset: cached, and refetched once when a token names an
  unknown `kid` (Canvas rotates its keys);
- only RS256/384/512 are accepted (never `none` or HMAC), `aud` must contain our client_id and
  `azp`, when present or when `aud` lists several audiences, must equal it; exp/iat are checked
  with a small leeway;
- the nonce is single-use (an atomic `cache.add`), so a replayed id_token is refused;
- the nonce is bound to the state of its login: pylti1p3 accepts any nonce it issued, so an
  id_token from another login of the same browser (another tab, another course) would pass with
  this login's state; the login step records which nonce went with which state, the launch step
  requires the id_token's nonce to be that one;
- several registrations may share one issuer (Canvas cloud): lookups are always by iss + client_id.
"""
