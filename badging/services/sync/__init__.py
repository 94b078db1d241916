"""Course sync: bring a course's Canvas data into the database, evaluate every learner, hand the
eligible ones to issuance.

Guarantees:
- One sync per course at a time (a lock in the shared cache). A trigger that arrives while a
  sync runs is not lost: it is recorded and the running sync makes one more pass.
- Few Canvas calls: one sequential pass per kind, pages of 100. Submissions are read in full the
  first time and once a day, otherwise incrementally with `graded_since` (with an overlap margin
  against clock skew).
  The roster (enrollments with grades, primary emails) is re-read on full syncs, on an
  instructor's "sync now", on roster live events, and when older than BADGING_SYNC_INTERVAL_MINUTES;
  a roster pass also re-reads graded-but-unposted results, since posting does not move graded_at.
- Only posted grades count (the evaluation ignores unposted ones; posted_at is recorded).
- On a roster pass whose history is all it reads, learners are evaluated (and the eligible ones
  queued for issuance) as their rows are stored, while Canvas's next pages are read.
- Only published credentialing assessments are asked for (badging.rules): Canvas refuses the
  whole submissions request for an unpublished or deleted id. The course's Final Grade Override
  setting is read with the roster: without it Canvas reports no override.
- Every run leaves a SyncRun with its status, Canvas request count, stats and, on failure, the
  reason in plain words (also copied to CourseSync.last_error for the instructor dashboard).

Modules, one reason to change each: coordination (when a sync runs, one per course at a time),
marks (learners marked for the next run), run (one pass and its SyncRun), canvas_import (course,
assignments, roster and people into rows), submissions_import (results into rows), progress
(learners evaluated, eligible ones handed to issuance), schedule (the beat rows). Whether a
learner meets a badge's rule is badging.rules / badging.evaluation's decision, asked from here.
"""
