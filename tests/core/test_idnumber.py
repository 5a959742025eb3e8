from datetime import date, timedelta

from core import clock
from core.idnumber import check_digit, make_id_number, mask, validate_id_number


def test_standard_example_is_valid():
    # The worked example of GB 11643-1999.
    assert validate_id_number("11010519491231002X") == ("11010519491231002X", [])
    assert validate_id_number("11010519491231002x")[1] == []  # lower-case x is normalised


def test_check_digit_wrong():
    assert validate_id_number("110105194912310021")[1] == ["身份证号码校验位不正确，请核对后重新输入"]


def test_length_and_characters():
    assert validate_id_number("1101051949123100")[1] == ["身份证号码应为18位"]
    assert "格式不正确" in validate_id_number("11010519491231A02X")[1][0]


def test_province_code():
    number = "99" + "0105194912310020"
    first17 = number[:17]
    assert validate_id_number(first17 + check_digit(first17))[1] == ["身份证号码的省份代码不正确"]


def test_birth_date_invalid_and_future():
    bad = "110105" + "19490231" + "002"
    assert validate_id_number(bad + check_digit(bad))[1] == ["身份证号码中的出生日期不正确"]
    future = make_id_number("110105", clock.local_today() + timedelta(days=2), 2)
    assert validate_id_number(future)[1] == ["身份证号码中的出生日期晚于今天"]


def test_abolished_county_code_still_valid():
    # 360122 (新建县) became 360112 (新建区) in 2015; cards issued before stay valid.
    assert validate_id_number(make_id_number("360122", date(1970, 3, 4), 17))[1] == []


def test_mask():
    assert mask("360124199001011234") == "3601**********1234"
    assert mask(None) is None
