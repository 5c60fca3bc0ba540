"""A user whose history could not be read is scored without a baseline, and the evidence says
why instead of dropping the history silently."""

from __future__ import annotations

from shared.pipeline.scoring import UserInput


def test_unread_history_is_named_in_the_evidence() -> None:
    unread = UserInput(user_id="u", timeline=[], pages=[],
                       history_error="sign-ins: Graph answered 429 TooManyRequests")
    assert unread.profile() == (None, "none: the user's history could not be read (sign-ins: "
                                      "Graph answered 429 TooManyRequests)")
    assert UserInput(user_id="u", timeline=[], pages=[]).profile() == (None, "none")
