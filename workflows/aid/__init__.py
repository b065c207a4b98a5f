"""Capacity-reduction hardship aid (去产能企业特困职工援助, issue #6; seed 000 items 7–10).

`validation` checks the province's draft list (pure functions, no database); the import, the models and the
process hooks build on it.
"""
