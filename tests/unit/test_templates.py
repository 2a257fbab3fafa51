from services.notifications.templates import CASE_REGISTERED_CITIZEN, segments


def test_segments_as_operators_count_them():
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("س" * 70) == 1
    assert segments("س" * 71) == 2  # 67 per part once split
    assert segments("س" * 134) == 2
    assert segments("س" * 135) == 3


def test_case_registered_message_carries_the_code_and_fits_two_parts():
    body = CASE_REGISTERED_CITIZEN.render(tracking_code="4203917755102846",
                                          track_url="http://localhost:8000/track/4203917755102846")
    assert "4203917755102846" in body and "کد رهگیری" in body
    assert segments(body) <= 2
