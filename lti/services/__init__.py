"""Writes of the LTI side, one module per subject: `platforms` (registrations, invites,
deployments), `tool_keys` (our signing keys) and `launches` (courses, people, launch contexts)."""
