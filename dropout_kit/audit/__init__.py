"""`dropout-kit audit`: how strong are an assignment's hidden checks? Mutation analysis.

Small faults are seeded into the instructor's solution regions (dropout_kit.audit.mutants),
each mutant is graded by the real engine in a scratch copy of the course
(dropout_kit.audit.run), classified by the scores it got (dropout_kit.audit.results), the
survivors compared with the reference outside grading (dropout_kit.audit.differential), and
the whole written up for the instructor (dropout_kit.audit.report).
"""
