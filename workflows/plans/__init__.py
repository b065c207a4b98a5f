"""Responsibility-assignment plans (责任分工方案, issue #8): loading plans from data files, their targets'
progress from live data, and the department heads' dashboard."""
