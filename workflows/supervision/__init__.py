"""Supervised matters (督办, issue 8; bpm-anchors §3): the units a matter may be assigned to, its records, the
ledger (台账) and the escalation of overdue matters. The process hooks are workflows.processes.supervision."""
