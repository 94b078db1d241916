"""A realistic course in the sandbox, registered in the tool: what `sandbox_seed` and the demo run.

Learners are spread over every state the tool must tell apart (mastered all, partly, not
submitted, graded but unposted, final grade override entered or not, dropped, concluded,
inactive, two sections, Student View), with names and rubric texts that carry accents and
HTML-special characters. Idempotent: a second run finds the course and only refreshes the
tool's registration and demo configuration. Bulk inserts keep 5,000 learners well under a minute.

`instances` holds the entry points (`sandbox_seed`, `hosted_registration_seed`); `course` the
demo course's Canvas content, `problem_courses` the two courses whose settings stop the badge,
and `tool` what the seed sets up in the tool (registration, badge configuration, My badges demo).
"""
