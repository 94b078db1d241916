"""What a learner (or the person launching) sees, read-only: the learner page's data (page), its
words and shapes (cards), the page kept in the cache (cached), and a course's setup (course_setup).
"""
