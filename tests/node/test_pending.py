"""The handles a submission returns: settled once, by the commit thread, in groups."""

from __future__ import annotations

import logging
import threading

import pytest

from veriledger.node.pending import Pending, Submission, settle


def test_handles_follow_the_submission_order_and_start_pending() -> None:
    submission: Submission[str] = Submission(["a", "b", "c"])
    assert [p.id for p in submission] == ["a", "b", "c"]
    assert len(submission) == 3
    assert submission[1].id == "b"
    assert [p.id for p in submission[1:]] == ["b", "c"]
    assert not any(p.done() for p in submission)
    with pytest.raises(TimeoutError, match="a is still pending"):
        submission[0].result(timeout=0.01)


def test_settle_sets_values_and_errors_across_submissions() -> None:
    first: Submission[str] = Submission(["a", "b"])
    second: Submission[str] = Submission(["c"])
    failure = RuntimeError("disk full")
    settle([((first, 0), "ok-a"), ((second, 0), "ok-c"), ((first, 1), failure)])
    assert first[0].result() == "ok-a"
    assert second[0].result(timeout=0) == "ok-c"
    with pytest.raises(RuntimeError, match="disk full"):
        first[1].result()


def test_a_handle_is_settled_once() -> None:
    submission: Submission[str] = Submission(["a"])
    settle([((submission, 0), "first")])
    settle([((submission, 0), RuntimeError("late"))])
    assert submission[0].result() == "first"


def test_callbacks_run_once_whether_added_before_or_after() -> None:
    submission: Submission[str] = Submission(["a", "b"])
    seen: list[tuple[str, str]] = []

    def record(p: Pending[str]) -> None:
        seen.append((p.id, p.result()))

    submission[0].add_done_callback(record)
    settle([((submission, 0), "x")])
    assert seen == [("a", "x")]
    settle([((submission, 1), "y")])
    submission[1].add_done_callback(record)  # already settled: runs at once
    assert seen == [("a", "x"), ("b", "y")]


def test_when_all_done_waits_for_the_last_handle() -> None:
    submission: Submission[str] = Submission(["a", "b"])
    calls: list[str] = []
    submission.when_all_done(lambda: calls.append("all"))
    settle([((submission, 0), "x")])
    assert calls == []
    settle([((submission, 1), RuntimeError("failed too"))])
    assert calls == ["all"]
    submission.when_all_done(lambda: calls.append("late"))
    assert calls == ["all", "late"]


def test_a_failing_callback_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    submission: Submission[str] = Submission(["a", "b"])
    seen: list[str] = []

    def boom(_: Pending[str]) -> None:
        raise ValueError("callback bug")

    submission[0].add_done_callback(boom)
    submission[1].add_done_callback(lambda p: seen.append(p.id))
    with caplog.at_level(logging.ERROR):
        settle([((submission, 0), "x"), ((submission, 1), "y")])
    assert seen == ["b"]
    assert "callback bug" in caplog.text


def test_a_waiting_thread_wakes_when_its_handle_settles() -> None:
    submission: Submission[str] = Submission(["a", "b"])
    results: list[str] = []
    waiter = threading.Thread(target=lambda: results.append(submission[1].result(timeout=10)))
    waiter.start()
    settle([((submission, 0), "first")])  # another handle: the waiter keeps waiting
    settle([((submission, 1), "second")])
    waiter.join(timeout=10)
    assert results == ["second"]


def test_outcomes_are_read_once_all_are_settled() -> None:
    submission: Submission[str] = Submission(["a", "b"])
    failure = RuntimeError("failed")
    settle([((submission, 1), failure)])
    with pytest.raises(RuntimeError, match="1 transactions are still pending"):
        submission.outcomes()
    settle([((submission, 0), "x")])
    assert submission.outcomes() == ["x", failure]
