"""Many clients racing through `gunicorn -w 4` on the suite's database (issue #5): bench/concurrency.py, small.

The script prints its counts when run by hand; here every guarantee it checks must hold: each start one case, each
task claimed by one official and completed once, no completion of a parallel branch lost, each due timer fired
once by four competing scheduler processes, no duplicate reminder or approval step, index equal to the engine, the
audit chain intact and the dashboard's tallies equal to a recount.
"""

from __future__ import annotations

from bench.concurrency import Sizes, run


def test_racing_clients_and_schedulers_break_no_guarantee(fresh_database_url: str) -> None:
    report = run(fresh_database_url, Sizes(starts=12, contested=4, branches=2, timers=2, attempts=2))
    assert report.failures == [], report.counts
    assert report.counts["starts: requests / 201 / distinct cases"] == (12, 12, 12)
    assert report.counts["completions: requests / 200 / tasks completed once"] == (20, 4, 4)
    assert report.counts["timers: cases / fired once"] == (2, 2)
