import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.identifiers import (
    InvalidIdentifier, is_valid_national_id, is_valid_sheba, luhn_check_digit, luhn_valid, mask_mobile,
    normalise_card, normalise_mobile, normalise_national_id, normalise_sheba,
)


@pytest.mark.parametrize("value", ["0499370899", "0790419904", "0084575948", "0013542419", "4608968882"])
def test_valid_national_ids(value):
    assert is_valid_national_id(value)


@pytest.mark.parametrize("value", ["0499370898", "1111111111", "0000000000", "12345", "04993708990", "abcdefghij"])
def test_invalid_national_ids(value):
    assert not is_valid_national_id(value)


def test_national_id_from_persian_digits_and_dropped_zeros():
    assert normalise_national_id("۰۴۹۹-۳۷۰-۸۹۹") == "0499370899"
    assert normalise_national_id("84575948") == "0084575948"
    with pytest.raises(InvalidIdentifier) as err:
        normalise_national_id("0499370898")
    assert err.value.code == "invalid_national_id" and "کد ملی" in err.value.message_fa


@pytest.mark.parametrize("typed", ["09121234567", "+989121234567", "00989121234567", "989121234567",
                                   "9121234567", "۰۹۱۲ ۱۲۳ ۴۵۶۷", "٠٩١٢١٢٣٤٥٦٧", "0912-123-4567"])
def test_mobile_forms_normalise(typed):
    assert normalise_mobile(typed) == "09121234567"


@pytest.mark.parametrize("typed", ["0912123456", "091212345678", "08121234567", "+449121234567", "", "phone"])
def test_invalid_mobiles(typed):
    with pytest.raises(InvalidIdentifier) as err:
        normalise_mobile(typed)
    assert err.value.code == "invalid_mobile"


def test_mask_mobile():
    assert mask_mobile("09121234567") == "0912***4567"


@pytest.mark.parametrize("value", ["IR820540102680020817909002", "IR062960000000100324200001"])
def test_valid_sheba(value):
    assert is_valid_sheba(value)
    assert normalise_sheba(value.lower().replace("ir", "IR ")) == value


@pytest.mark.parametrize("value", ["IR820540102680020817909003", "IR82054010268002081790900", "DE89370400440532013000"])
def test_invalid_sheba(value):
    assert not is_valid_sheba(value)


def test_card_numbers():
    assert normalise_card("6037 9912 3456 7893") == "6037991234567893"
    with pytest.raises(InvalidIdentifier):
        normalise_card("6037991234567890")


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_luhn_check_digit_makes_valid_numbers(payload):
    assert luhn_valid(payload + luhn_check_digit(payload))


@given(st.text(alphabet="0123456789", min_size=15, max_size=15), st.integers(0, 14), st.integers(1, 9))
def test_luhn_catches_any_single_digit_typo(payload, position, shift):
    number = payload + luhn_check_digit(payload)
    typo = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1:]
    assert not luhn_valid(typo)
