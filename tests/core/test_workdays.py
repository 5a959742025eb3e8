from datetime import date

import pytest

from core import workdays


def test_spring_festival_2026():
    # 2026 Spring Festival: 15-23 February off; Saturday 28 February is a make-up working day.
    assert not workdays.is_workday(date(2026, 2, 16))
    assert workdays.is_workday(date(2026, 2, 28))
    # Friday 13 Feb + 3 working days: 14 (Sat, make-up day), then 24, 25 February.
    assert workdays.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)


def test_national_day_2026():
    # 2026 National Day: 1-7 October off; Sunday 20 September and Saturday 10 October are make-up days.
    assert not workdays.is_workday(date(2026, 10, 5))
    assert workdays.is_workday(date(2026, 10, 10))
    assert workdays.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 9)
    assert workdays.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_unknown_year_falls_back_to_weekdays_and_warns(caplog):
    day = date(2031, 1, 6)  # a Monday in a year chinese_calendar does not know
    assert workdays.is_estimated(day)
    with caplog.at_level("WARNING"):
        assert workdays.add_working_days(date(2031, 1, 3), 1) == day
    assert any("assuming Monday-Friday" in r.message for r in caplog.records)


def test_holiday_file_extends_unknown_years(tmp_path):
    path = tmp_path / "holidays.txt"
    path.write_text("# 2031 New Year\n2031-01-01 holiday\n2031-01-04 workday\n", encoding="utf-8")
    workdays.load_holiday_file(path)
    try:
        assert not workdays.is_estimated(date(2031, 3, 3))
        assert not workdays.is_workday(date(2031, 1, 1))
        assert workdays.is_workday(date(2031, 1, 4))  # a Saturday made a working day
    finally:
        workdays.load_holiday_file(None)


def test_bad_holiday_file(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("2031-01-01 party\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holiday or workday"):
        workdays.load_holiday_file(path)
