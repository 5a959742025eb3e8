"""The default data catalogue (数据目录), as data: what each department sends, in which columns.

``install`` (core.exchange.catalogue) writes these categories and their schema version 1 when they are
missing; a deployment changes a category by adding a schema version, never by editing this file's
released entries. Column types: ``varchar``, ``integer``, ``decimal``, ``date``; a column with ``codes``
accepts a code or its label and stores the code. Every category names its ID-number column and its
effective-date column (the date a record is true on: a death date, a pension month, a balance's date).
"""

from __future__ import annotations

from typing import Any

SNAPSHOT, INCREMENT = "snapshot", "increment"
LOAD_RULES = {SNAPSHOT: "全量快照（替换上一次）", INCREMENT: "增量追加"}
COLUMN_TYPES = {"varchar": "文本", "integer": "整数", "decimal": "数值", "date": "日期"}


def col(
    key: str,
    label: str,
    type_: str = "varchar",
    *,
    required: bool = False,
    codes: dict[str, str] | None = None,
    unit: str | None = None,
    aliases: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "type": type_,
        "required": required,
        "codes": codes,
        "unit": unit,
        "aliases": list(aliases),
    }


ID = col("id_number", "身份证号", required=True, aliases=("身份证号码", "公民身份号码", "证件号码", "sfzh"))
NAME = col("name", "姓名", aliases=("xm",))
YUAN = "元"

DEFAULT_CATEGORIES: tuple[dict[str, Any], ...] = (
    {
        "code": "deaths",
        "name": "死亡人员",
        "department_kind": "public_security",
        "load_rule": INCREMENT,
        "refresh_days": 1,
        "retention_days": 1095,
        "date_column": "death_date",
        "columns": [
            ID,
            NAME,
            col("death_date", "死亡日期", "date", required=True),
            col("place", "死亡地点"),
        ],
    },
    {
        "code": "cremations",
        "name": "火化记录",
        "department_kind": "civil_affairs",
        "load_rule": INCREMENT,
        "refresh_days": 1,
        "retention_days": 1095,
        "date_column": "cremation_date",
        "columns": [
            ID,
            NAME,
            col("cremation_date", "火化日期", "date", required=True),
            col("funeral_home", "殡仪馆"),
        ],
    },
    {
        "code": "imprisonment",
        "name": "服刑羁押人员",
        "department_kind": "justice",
        "load_rule": SNAPSHOT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "start_date",
        "columns": [
            ID,
            NAME,
            col(
                "status",
                "状态",
                required=True,
                codes={"serving": "服刑", "detained": "羁押", "released": "已释放"},
            ),
            col("start_date", "起始日期", "date", required=True, aliases=("入监日期", "羁押日期")),
            col("end_date", "结束日期", "date", aliases=("刑满日期", "释放日期")),
            col("facility", "监所名称"),
        ],
    },
    {
        "code": "community_corrections",
        "name": "社区矫正人员",
        "department_kind": "justice",
        "load_rule": SNAPSHOT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "start_date",
        "columns": [
            ID,
            NAME,
            col(
                "correction_type",
                "矫正类别",
                required=True,
                codes={"probation": "缓刑", "parole": "假释", "temporary_release": "暂予监外执行", "control": "管制"},
            ),
            col("start_date", "矫正起始日期", "date", required=True),
            col("end_date", "矫正结束日期", "date"),
        ],
    },
    {
        "code": "vehicles",
        "name": "机动车登记",
        "department_kind": "traffic",
        "load_rule": SNAPSHOT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "registered_on",
        "columns": [
            ID,
            col("name", "所有人姓名", aliases=("姓名",)),
            col("plate_no", "号牌号码", required=True),
            col(
                "vehicle_type",
                "车辆类型",
                required=True,
                codes={"car": "小型汽车", "truck": "货车", "motorcycle": "摩托车", "other": "其他"},
            ),
            col("registered_on", "初次登记日期", "date", required=True),
            col("status", "机动车状态", codes={"normal": "正常", "scrapped": "报废", "transferred": "转出"}),
        ],
    },
    {
        "code": "property",
        "name": "不动产登记",
        "department_kind": "housing",
        "load_rule": SNAPSHOT,
        "refresh_days": 92,
        "retention_days": 730,
        "date_column": "registered_on",
        "columns": [
            ID,
            col("name", "权利人姓名", aliases=("姓名",)),
            col("certificate_no", "不动产权证号", required=True),
            col("address", "坐落"),
            col("area", "建筑面积", "decimal", unit="平方米"),
            col("usage", "用途", codes={"residential": "住宅", "commercial": "商业", "other": "其他"}),
            col("registered_on", "登记日期", "date", required=True),
        ],
    },
    {
        "code": "pensions",
        "name": "养老金发放",
        "department_kind": "human_resources",
        "load_rule": INCREMENT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "month",
        "columns": [
            ID,
            NAME,
            col("month", "发放月份", "date", required=True, aliases=("发放日期",)),
            col("amount", "发放金额", "decimal", required=True, unit=YUAN),
            col(
                "pension_type",
                "养老保险类型",
                codes={
                    "enterprise": "企业职工基本养老保险",
                    "urban_rural": "城乡居民基本养老保险",
                    "institution": "机关事业单位养老保险",
                },
            ),
        ],
    },
    {
        "code": "wages",
        "name": "工资收入",
        "department_kind": "human_resources",
        "load_rule": INCREMENT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "month",
        "columns": [
            ID,
            NAME,
            col("employer", "工作单位"),
            col("month", "所属月份", "date", required=True),
            col("amount", "应发工资", "decimal", required=True, unit=YUAN),
        ],
    },
    {
        "code": "unemployment",
        "name": "失业登记",
        "department_kind": "human_resources",
        "load_rule": SNAPSHOT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "registered_on",
        "columns": [
            ID,
            NAME,
            col("registered_on", "登记日期", "date", required=True),
            col("status", "登记状态", required=True, codes={"registered": "登记失业", "ended": "已注销"}),
            col("benefit_amount", "失业保险金", "decimal", unit=YUAN),
        ],
    },
    {
        "code": "medical_costs",
        "name": "医疗自付费用",
        "department_kind": "medical_insurance",
        "load_rule": INCREMENT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "settled_on",
        "columns": [
            ID,
            NAME,
            col("settled_on", "结算日期", "date", required=True),
            col("hospital", "医疗机构"),
            col("total_cost", "医疗总费用", "decimal", unit=YUAN),
            col("out_of_pocket", "个人自付费用", "decimal", required=True, unit=YUAN),
        ],
    },
    {
        "code": "business_registration",
        "name": "工商登记",
        "department_kind": "market_regulation",
        "load_rule": SNAPSHOT,
        "refresh_days": 92,
        "retention_days": 730,
        "date_column": "established_on",
        "columns": [
            ID,
            NAME,
            col("enterprise_name", "企业（个体户）名称", required=True),
            col("credit_code", "统一社会信用代码"),
            col(
                "role",
                "身份",
                required=True,
                codes={"legal_rep": "法定代表人", "shareholder": "股东", "owner": "个体工商户经营者"},
            ),
            col("registered_capital", "注册资本", "decimal", unit="万元"),
            col("established_on", "成立日期", "date", required=True),
            col("status", "登记状态", codes={"active": "存续", "revoked": "吊销", "cancelled": "注销"}),
        ],
    },
    {
        "code": "public_servants",
        "name": "公职人员",
        "department_kind": "organization",
        "load_rule": SNAPSHOT,
        "refresh_days": 92,
        "retention_days": 730,
        "date_column": "start_date",
        "columns": [
            ID,
            NAME,
            col("employer", "工作单位", required=True),
            col("position", "职务"),
            col("start_date", "入职日期", "date", required=True),
            col("status", "状态", codes={"serving": "在职", "retired": "退休"}),
        ],
    },
    {
        "code": "provident_fund",
        "name": "住房公积金缴存",
        "department_kind": "provident_fund",
        "load_rule": INCREMENT,
        "refresh_days": 31,
        "retention_days": 730,
        "date_column": "month",
        "columns": [
            ID,
            NAME,
            col("employer", "缴存单位"),
            col("month", "缴存月份", "date", required=True),
            col("monthly_deposit", "月缴存额", "decimal", required=True, unit=YUAN),
            col("balance", "账户余额", "decimal", unit=YUAN),
        ],
    },
    {
        "code": "disability_certificates",
        "name": "残疾人证",
        "department_kind": "disabled_federation",
        "load_rule": SNAPSHOT,
        "refresh_days": 92,
        "retention_days": 730,
        "date_column": "issued_on",
        "columns": [
            ID,
            NAME,
            col("certificate_no", "残疾人证号"),
            col(
                "disability_type",
                "残疾类别",
                required=True,
                codes={
                    "visual": "视力",
                    "hearing": "听力",
                    "speech": "言语",
                    "physical": "肢体",
                    "intellectual": "智力",
                    "mental": "精神",
                    "multiple": "多重",
                },
            ),
            col("grade", "残疾等级", required=True, codes={"1": "一级", "2": "二级", "3": "三级", "4": "四级"}),
            col("issued_on", "发证日期", "date", required=True),
        ],
    },
    {
        "code": "education_costs",
        "name": "教育支出",
        "department_kind": "education",
        "load_rule": INCREMENT,
        "refresh_days": 183,
        "retention_days": 730,
        "date_column": "term_start",
        "columns": [
            ID,
            col("name", "学生姓名", aliases=("姓名",)),
            col("school", "学校名称"),
            col("term_start", "学期开始日期", "date", required=True),
            col("tuition", "学费", "decimal", unit=YUAN),
            col("accommodation", "住宿费", "decimal", unit=YUAN),
        ],
    },
    {
        "code": "deposits",
        "name": "银行存款",
        "department_kind": "bank",
        "load_rule": SNAPSHOT,
        "refresh_days": 92,
        "retention_days": 365,
        "date_column": "as_of",
        "columns": [
            ID,
            NAME,
            col("bank_name", "开户银行", required=True),
            col("balance", "存款余额", "decimal", required=True, unit=YUAN),
            col("as_of", "余额日期", "date", required=True),
        ],
    },
)
DEFAULTS_BY_CODE = {c["code"]: c for c in DEFAULT_CATEGORIES}
