"""The Canvas REST subset the tool reads, under /sandbox/<instance>/api/v1 (reference §B2-B3).

`pipeline` is what every endpoint goes through (Canvas's middleware and pagination); the
endpoints and their JSON shapes are one module per Canvas resource: `courses`, `assignments`
(with assignment groups and rubrics), `submissions`, and `people` (enrollments, users, their
communication channels and profiles).
"""
