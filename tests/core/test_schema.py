from datetime import datetime, timezone

import pytest

from core.schema import MAX_TEXT_CHARS, InvalidPost, make_post


def post(**fields):
    return make_post(**{"platform": "weibo", "platform_id": "1", "text": "停电了", **fields})


def test_text_is_normalised_and_control_characters_removed():
    p = post(text="  东湖区\x00停电\u200b了\r\n\r\n\r\n  快来人  ")
    assert p.text == "东湖区停电了\n\n快来人"


def test_overlong_text_is_cut_and_marked():
    p = post(text="电" * (MAX_TEXT_CHARS + 10))
    assert len(p.text) == MAX_TEXT_CHARS and p.truncated


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"text": "   "}, "empty text"),
        ({"platform_id": ""}, "missing id"),
        ({"platform": "myspace"}, "unknown platform"),
        ({"reposts_count": "lots"}, "not a whole number"),
        ({"likes_count": -3}, "negative"),
        ({"created_at": "yesterday"}, "not a date"),
        ({"created_at": "1900-01-01"}, "out of range"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(fields, reason):
    with pytest.raises(InvalidPost, match=reason):
        post(**fields)


def test_times_become_utc_naive_values_are_china_time():
    assert post(created_at="2024-07-25 14:30").created_at == datetime(2024, 7, 25, 6, 30, tzinfo=timezone.utc)
    assert post(created_at=1347334462).created_at.year == 2012
    assert post(created_at=1347334462000).created_at.year == 2012  # milliseconds


def test_copies_share_a_content_hash():
    assert post(text="全城 停电三天").content_hash == post(text="全城停电三天", platform_id="2").content_hash
    assert post(text="全城停电三天").content_hash != post(text="全城停电两天").content_hash
