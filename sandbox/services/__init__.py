"""Writes to the fake Canvas: what teachers and admins do in Canvas, and its platform keys.

Every change that Canvas would announce with a Live Event returns after queueing that event
(sandbox.live_events), so the tool's /events/canvas/<platform key>/ receiver can be exercised locally.

One module per kind of change: `grades` (grading, posting, overrides, course scores), `people`
(users, their channels and languages, enrollments), `courses` (assessments, publishing, course
settings, concluding), `keys` (signing keys and REST tokens), `instance` (faults, Live Events
destination); `base` holds what they share.
"""
