"""Reads for the instructor dashboard, one module per panel: display_states (the table's words for
the learner states, counts per state), overview (badges, awards needing review, recent actions),
rule_check, sync_status, learner_table (and its export) and explanation ("why not issued?").

Every function here runs a bounded number of queries whatever the course size: the learner table
is paginated in the database, and what a page shows about its learners (results, awards,
deliveries) is fetched with one query per kind for that page only.
"""
