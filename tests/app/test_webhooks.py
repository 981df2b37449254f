"""Webhook signing and retry schedule (Standard Webhooks)."""

import pytest

from app.outbound import retry_delay, sign


def test_signature_matches_the_standard_webhooks_test_vector():
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_any_change_of_id_timestamp_or_body_changes_the_signature():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    base = sign(secret, "msg_1", 100, b"{}")
    assert (
        len(
            {
                base,
                sign(secret, "msg_2", 100, b"{}"),
                sign(secret, "msg_1", 101, b"{}"),
                sign(secret, "msg_1", 100, b"{ }"),
            }
        )
        == 4
    )


@pytest.mark.parametrize(
    "attempt,delay", [(1, 10.0), (2, 30.0), (3, 90.0), (6, 2430.0), (7, 3000.0)]
)
def test_retries_back_off_exponentially_up_to_a_cap(attempt, delay):
    assert retry_delay(attempt, base_seconds=10.0, cap_seconds=3000.0) == delay
