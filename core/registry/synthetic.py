"""A synthetic recipient register (demo data, benchmarks): plausible households, valid ID numbers.

Rows come out in the import's column order (``core.registry.importer.COLUMNS``), so the demo and the
benchmark load them through the same set-based import as a county's real file. Deterministic for a seed
(the same households, numbers and amounts every time), so loading twice adds nothing the second time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from core import idnumber

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# the commonest surnames of the province weigh more (熊, 万, 涂, 胡, 吴 are frequent around Nanchang)
FREQUENT = "王李张刘陈杨黄胡吴熊万涂罗徐"
MALE = "建国明华军伟强平东志勇杰峰文海春德福林斌辉刚飞民永生金水根长荣发兴和清云龙"
FEMALE = "秀英兰芳桂花玉珍凤琴梅娟丽红燕霞萍艳华娥菊莲香巧翠美玲静敏"
BANKS = (
    ("中国农业银行进贤县支行", "622848"),
    ("江西农商银行进贤支行", "623092"),
    ("中国邮政储蓄银行进贤县支行", "621799"),
    ("中国建设银行进贤支行", "621700"),
)
# 元/月 per person (城市 / 农村); 特困 basic support ≥ 1.3 × the 低保 standard, plus a care allowance
DIBAO_STANDARD = {"urban": Decimal("1000"), "rural": Decimal("830")}
TEKUN_FACTOR = Decimal("1.3")
CARE_ALLOWANCE = (Decimal("0"), Decimal("260"), Decimal("520"))  # 全自理 · 半护理 · 全护理


@dataclass(frozen=True)
class Place:
    township_code: str
    village_code: str | None
    urban: bool


def _round10(value: Decimal) -> Decimal:
    return (value / 10).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * 10


class People:
    """Unique, valid ID numbers (GB 11643 check digit) and names for one county prefix."""

    def __init__(self, prefix6: str, rng: random.Random) -> None:
        self.prefix6 = prefix6
        self.rng = rng
        self.used: set[str] = set()

    def id_number(self, born: date, male: bool) -> str:
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if male else 0)  # the 17th digit is odd for men
            number = idnumber.make_id_number(self.prefix6, born, seq)
            if number not in self.used:
                self.used.add(number)
                return number

    def surname(self) -> str:
        return self.rng.choice(FREQUENT) if self.rng.random() < 0.45 else self.rng.choice(SURNAMES)

    def given(self, male: bool) -> str:
        pool = MALE if male else FEMALE
        return "".join(self.rng.choice(pool) for _ in range(self.rng.choice((1, 2, 2, 2))))

    def born(self, today: date, age_from: int, age_to: int) -> date:
        age = self.rng.randint(age_from, age_to)
        return today - timedelta(days=age * 365 + self.rng.randrange(0, 365))


def _months_back(today: date, n: int) -> str:
    index = today.year * 12 + today.month - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _account(rng: random.Random) -> tuple[str, str]:
    name, bin_ = rng.choice(BANKS)
    return name, bin_ + "".join(str(rng.randrange(10)) for _ in range(13))


def household_rows(
    places: Sequence[Place],
    households: int,
    *,
    prefix6: str,
    today: date,
    seed: int = 2026,
    tekun_share: float = 0.13,
    key_prefix: str = "",
) -> Iterator[list[str]]:
    """``households`` households as import rows (one row per member), spread over ``places``."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data (same seed, same register), no secret
    people = People(prefix6, rng)
    for n in range(households):
        place = places[n % len(places)] if n < len(places) else rng.choice(places)
        key = f"{key_prefix}{n + 1:05d}"
        standard = DIBAO_STANDARD["urban" if place.urban else "rural"]
        start = _months_back(today, rng.randrange(0, 72))
        bank, account = _account(rng)
        township, village = place.township_code, place.village_code or ""
        if rng.random() < tekun_share:
            male = rng.random() < 0.55
            born = people.born(today, 62, 92) if rng.random() < 0.9 else people.born(today, 25, 59)
            amount = _round10(standard * TEKUN_FACTOR) + rng.choice(CARE_ALLOWANCE)
            name = people.surname() + people.given(male)
            number = people.id_number(born, male)
            yield [key, name, number, "本人", "特困", f"{amount:.2f}", start, township, village, bank, account]
            continue
        size = rng.choices((1, 2, 3, 4, 5), weights=(30, 30, 20, 13, 7))[0]
        male = rng.random() < 0.6
        head_age = rng.randint(38, 82)
        head_born = people.born(today, head_age, head_age)
        surname = people.surname()
        members: list[tuple[str, str, str]] = [
            (surname + people.given(male), people.id_number(head_born, male), "本人")
        ]
        if size >= 2 and rng.random() < 0.7:
            spouse_male = not male
            spouse_born = people.born(today, max(20, head_age - 6), head_age + 4)
            members.append(
                (people.surname() + people.given(spouse_male), people.id_number(spouse_born, spouse_male), "配偶")
            )
        while len(members) < size:
            child_male = rng.random() < 0.5
            if head_age >= 68 and rng.random() < 0.6:
                born, relation = people.born(today, 3, 17), "孙子女/外孙子女"
            elif head_age <= 50 and rng.random() < 0.25:
                born, relation = people.born(today, min(95, head_age + 22), min(96, head_age + 32)), "父母"
            else:
                low = max(0, head_age - 40)
                born, relation = people.born(today, low, max(low, head_age - 22)), "子女"
            name = (surname if relation != "父母" else people.surname()) + people.given(child_male)
            members.append((name, people.id_number(born, child_male), relation))
        full = standard * len(members)
        income = Decimal("0") if rng.random() < 0.2 else full * Decimal(rng.randint(15, 65)) / 100
        amount = max(_round10(full - income), _round10(standard * Decimal("0.3")))
        head_name, head_number, _ = members[0]
        yield [key, head_name, head_number, "本人", "低保", f"{amount:.2f}", start, township, village, bank, account]
        for name, number, relation in members[1:]:
            yield [key, name, number, relation, "", "", "", "", "", "", ""]
