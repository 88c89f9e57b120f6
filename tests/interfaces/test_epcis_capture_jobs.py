"""Capture jobs: the encoded body a polling client gets, running and then finished."""

from __future__ import annotations

import gzip

import orjson
import pytest

from veriledger.core.errors import OutOfRangeError
from veriledger.interfaces.epcis import router
from veriledger.interfaces.epcis.router import CaptureJobs, InFlight
from veriledger.node.node import Submitted
from veriledger.node.pending import Submission, settle


def test_a_polled_job_is_encoded_once_per_state_and_never_stale() -> None:
    jobs = CaptureJobs()
    submission: Submission[Submitted] = Submission(["t1", "t2"])
    job = jobs.start(["e1", "e2"], ["t1", "t2"], submission)

    running = jobs.body(job.id, gzipped=False)
    assert orjson.loads(running)["running"] is True
    assert jobs.body(job.id, gzipped=False) is running  # the cached bytes, not re-encoded
    assert gzip.decompress(jobs.body(job.id, gzipped=True)) == running

    settle(
        [
            ((submission, 0), Submitted("t1", "committed", 5, 0)),
            ((submission, 1), Submitted("t2", "rejected", code="trace/3", reason="dup")),
        ]
    )
    finished = orjson.loads(gzip.decompress(jobs.body(job.id, gzipped=True)))
    assert finished["running"] is False and finished["success"] is False
    assert finished["errors"] == [{"eventIndex": 1, "code": "trace/3", "reason": "dup"}]
    assert "finishedAt" in finished
    assert orjson.loads(jobs.body(job.id, gzipped=False)) == finished
    assert len(job.encoded) == 2  # the running state's encodings were dropped


def test_finished_jobs_are_forgotten_oldest_first_beyond_the_kept_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(router, "MAX_KEPT_EVENTS", 4)
    jobs = CaptureJobs()
    submissions: list[Submission[Submitted]] = []
    started = []
    for n in range(4):
        ids = [f"t{n}a", f"t{n}b"]
        submissions.append(Submission(ids))
        started.append(jobs.start(["e", "e"], ids, submissions[-1]))
    for n in (0, 1, 2):  # three jobs of two events finish; job 3 keeps running
        settle(
            ((submissions[n], i), Submitted(t, "committed", 1, i))
            for i, t in enumerate(submissions[n].ids)
        )
    with pytest.raises(OutOfRangeError, match="finished jobs are kept"):
        jobs.get(started[0].id)
    assert [job.id for job in jobs.all()] == [s.id for s in started[1:]]


def test_keep_only_releases_refused_events_but_not_keys_a_kept_event_shares() -> None:
    in_flight = InFlight()
    keys = [{"h1", "id1"}, {"h2"}, {"h1", "id1"}]  # event 2 repeats event 0
    assert in_flight.reserve(keys, partial=True) == []
    in_flight.keep_only(keys, [0])  # events 1 and 2 were refused
    assert keys == [{"h1", "id1"}, set(), set()]
    assert in_flight.reserve([{"h2"}]) == []  # free again
    assert in_flight.reserve([{"id1"}]) == [0]  # still held by the kept event
    in_flight.release(keys)
    assert in_flight.reserve([{"h1"}]) == []
