"""UnionFlow's workflow layer: engine glue, persistence, routing, operations and policy.

Never imports Flask: every process can run end to end with a bare SQLAlchemy session.
"""
