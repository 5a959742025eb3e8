"""Request and response examples for the OpenAPI document: one household in 民和镇, 进贤县 (real division codes),
with valid GB 11643 ID numbers. tests/api/test_openapi_contract.py validates every example against its schema."""

from __future__ import annotations

from datetime import date

from core.idnumber import make_id_number, mask

TOWNSHIP = "360124100"  # 民和镇
VILLAGE = "360124100007"  # 解放街社区居委会
ADDRESS = "进贤县民和镇解放街12号"

APPLICANT = "张建国"
APPLICANT_ID = make_id_number("360124", date(1962, 4, 18), 11)  # 360124196204180118
SPOUSE = "李秀英"
SPOUSE_ID = make_id_number("360124", date(1965, 9, 3), 22)
SON = "张伟"
SON_ID = make_id_number("360124", date(1990, 6, 12), 31)
PHONE = "13800138000"
PHONE_MASKED = "138****8000"
NOW = "2026-11-24T02:15:30+00:00"
LATER = "2026-11-24T02:18:30+00:00"

# --- log-in ---------------------------------------------------------------------------------------------
SMS_SEND_IN = {"phone": PHONE}
SMS_SEND_OUT = {"expires_in": 300, "resend_after": 60, "dev_code": "482913"}
SMS_VERIFY_IN = {"phone": PHONE, "code": "482913"}
WECHAT_LOGIN_IN = {"code": "0a3Xk2Ga1Zb8bK0p9zHa1u7Vx33Xk2Gx"}
ALIPAY_LOGIN_IN = {"auth_code": "4b203fe6c11548bcabd8da5bb087a83b"}
REFRESH_IN = {"refresh_token": "r1.Qm9hQ2FsbS1SZWZyZXNoLVRva2VuLUV4YW1wbGU"}
TOKEN_OUT = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.8mXGv1d0nXyq3Yw1c2yH4h0p6gG6o9l9b1m5bWwXq2c",
    "refresh_token": "r1.Qm9hQ2FsbS1SZWZyZXNoLVRva2VuLUV4YW1wbGU",
    "token_type": "Bearer",
    "expires_in": 900,
}

# --- me and real name -----------------------------------------------------------------------------------
REAL_NAME_IN = {"name": APPLICANT, "id_number": APPLICANT_ID}
VERIFY_IN = {"method": "id_service"}
ME_OUT = {
    "id": 42,
    "phone_masked": PHONE_MASKED,
    "wechat_bound": False,
    "real_name_status": "verified",
    "real_name_status_label": "已实名核验",
    "real_name": APPLICANT,
    "id_number_masked": mask(APPLICANT_ID),
    "verified_at": NOW,
    "verification_method": "id_service",
    "verification_methods": ["face", "id_service", "window"],
    "claim": None,
    "linked_logins": [
        {"id": 42, "kind": "sms", "phone_masked": PHONE_MASKED, "wechat_bound": False, "current": True},
    ],
    "roles": [{"role": "grid_worker", "label": "网格员", "region_code": TOWNSHIP}],
}
ME_CLAIMED_OUT = {
    **ME_OUT,
    "real_name_status": "claimed",
    "real_name_status_label": "待核验",
    "real_name": None,
    "id_number_masked": None,
    "verified_at": None,
    "verification_method": None,
    "claim": {"name": APPLICANT, "id_number_masked": mask(APPLICANT_ID), "status": "pending", "rebind": False},
    "roles": [],
}
REAL_NAME_VERIFICATION_OUT = {
    "id": 7,
    "method": "id_service",
    "method_label": "身份核验服务（姓名、身份证号与本人手机号一致）",
    "status": "passed",
    "status_label": "已通过",
    "reason": None,
    "reason_message": None,
    "name": APPLICANT,
    "id_number_masked": mask(APPLICANT_ID),
    "created_at": NOW,
    "finished_at": NOW,
}
REAL_NAME_FACE_OUT = {
    **REAL_NAME_VERIFICATION_OUT,
    "id": 8,
    "method": "face",
    "method_label": "人脸核验（与公安人口库照片比对）",
    "status": "verifying",
    "status_label": "核验中",
    "finished_at": None,
}
CHALLENGE_OUT = {
    "challenge_id": "pWq0ZL8mS3y1cV7nT2kR9dXe",
    "actions": ["turn_left", "turn_right"],
    "instructions": ["向左转头", "向右转头"],
    "expires_at": LATER,
}

# --- regions and programs -------------------------------------------------------------------------------
REGIONS_OUT = [
    {"code": "360124100", "name": "民和镇", "level": "township", "parent_code": "360124"},
    {"code": "360124101", "name": "李渡镇", "level": "township", "parent_code": "360124"},
]
REGION_OUT = {
    "code": TOWNSHIP,
    "name": "民和镇",
    "level": "township",
    "parent_code": "360124",
    "ancestors": [
        {"code": "36", "name": "江西省", "level": "province", "parent_code": None},
        {"code": "3601", "name": "南昌市", "level": "city", "parent_code": "36"},
        {"code": "360124", "name": "进贤县", "level": "county", "parent_code": "3601"},
    ],
}
PROGRAMS_OUT = [
    {
        "program": "dibao",
        "label": "最低生活保障",
        "short": "低保",
        "county_code": "360124",
        "monthly_standard": "905.00",
        "required_materials": [{"code": "id_card", "label": "居民身份证"}, {"code": "hukou", "label": "户口簿"}],
        "asset_limits": {},
        "confirmation_delegated": False,
        "accept_working_days": 3,
    }
]

# --- applications ---------------------------------------------------------------------------------------
MEMBERS = [
    {"name": APPLICANT, "id_number": APPLICANT_ID, "relation": "self", "health": "serious", "employment": "unable"},
    {"name": SPOUSE, "id_number": SPOUSE_ID, "relation": "spouse", "health": "chronic", "employment": "farming"},
]
INCOMES = [{"category": "pension", "monthly_amount": "300.00", "member_index": 0, "note": "城乡居民养老金"}]
ASSETS = [{"kind": "housing", "address": ADDRESS, "area_sqm": "60.50"}]
CREATE_IN = {
    "program": "dibao",
    "residence_township_code": TOWNSHIP,
    "residence_village_code": VILLAGE,
    "residence_address": ADDRESS,
    "hukou_township_code": TOWNSHIP,
    "hardship_reason": "本人患重病，无劳动能力，家庭收入低",
    "applicant_phone": PHONE,
    "members": MEMBERS,
    "incomes": INCOMES,
    "assets": ASSETS,
}
CREATE_PROXY_IN = {
    "program": "dibao",
    "residence_township_code": TOWNSHIP,
    "on_behalf_of": {
        "name": "王桂兰",
        "id_number": make_id_number("360124", date(1941, 3, 9), 42),
        "phone": None,
        "relation": "cadre",
        "reason": "elderly",
        "reason_note": "独居，无智能手机",
    },
}
DRAFT_PATCH_IN = {
    "members": [*MEMBERS, {"name": SON, "id_number": SON_ID, "relation": "child", "employment": "employed"}],
    "incomes": [*INCOMES, {"category": "wages", "monthly_amount": "1800.00", "member_index": 2}],
}
ATTACHMENT_OUT = {
    "id": 15,
    "material": "hukou",
    "material_label": "户口簿",
    "original_name": "户口簿.jpg",
    "content_type": "image/jpeg",
    "size": 183204,
    "created_at": NOW,
}
APPLICATION_SUMMARY = {
    "id": 101,
    "reference": "SQ20261124K7M2Q9XA",
    "program": "dibao",
    "program_label": "最低生活保障",
    "status": "submitted",
    "status_label": "已提交，待受理",
    "is_proxy": False,
    "principal_confirmed": True,
    "applicant_name": APPLICANT,
    "submitted_at": NOW,
    "created_at": "2026-11-23T09:02:11+00:00",
    "updated_at": NOW,
}
APPLICATION_OUT = {
    **APPLICATION_SUMMARY,
    "status": "draft",
    "status_label": "草稿",
    "submitted_at": None,
    "applicant_id_number": APPLICANT_ID,
    "applicant_phone": PHONE,
    "proxy_relation": None,
    "proxy_reason": None,
    "residence_township_code": TOWNSHIP,
    "residence_village_code": VILLAGE,
    "residence_address": ADDRESS,
    "hukou_township_code": TOWNSHIP,
    "hardship_reason": "本人患重病，无劳动能力，家庭收入低",
    "members": [{**m, "disability_grade": None} for m in MEMBERS],
    "incomes": INCOMES,
    "assets": [
        {
            "kind": "housing",
            "description": None,
            "address": ADDRESS,
            "area_sqm": "60.50",
            "value_yuan": None,
            "quantity": None,
        }
    ],
    "attachments": [ATTACHMENT_OUT],
}
SUBMITTED_OUT = {
    **APPLICATION_OUT,
    "status": "submitted",
    "status_label": "已提交，待受理",
    "submitted_at": NOW,
    "economic_check": {
        "status": "done",
        "summary": "家庭经济状况核对已完成，工作人员将结合入户调查情况继续审核。",
        "finished_at": NOW,
    },
}
WITHDRAWN_OUT = {**APPLICATION_OUT, "status": "withdrawn", "status_label": "已撤回", "submitted_at": NOW}
WITHDRAW_IN = {"reason": "家庭收入已增加，暂不需要"}
CORRECTION_IN = {"text": "已补充上传户口簿首页和本人页", "attachment_ids": [15, 16]}
TIMELINE_OUT = [
    {
        "at": "2026-11-24T02:15:30+00:00",
        "kind": "submitted",
        "status": "submitted",
        "status_label": "已提交，待受理",
        "text": "您的申请已提交，民和镇将在3个工作日内受理",
        "reason": None,
    },
    {
        "at": "2026-11-25T01:40:00+00:00",
        "kind": "correction_requested",
        "status": "correction_requested",
        "status_label": "待补正材料",
        "text": "请补正材料：户口簿首页不清晰",
        "reason": "户口簿首页不清晰",
    },
]

# --- authorizations -------------------------------------------------------------------------------------
AUTH_REQUEST_OUT = {
    "id": 31,
    "member_name": SPOUSE,
    "member_id_number_masked": mask(SPOUSE_ID),
    "status": "pending",
    "status_label": "待授权",
    "method": None,
    "letter_version": "2026-01",
    "authorized_at": None,
}
MY_AUTHORIZATION_OUT = {
    "request": {
        **AUTH_REQUEST_OUT,
        "status": "authorized",
        "status_label": "已授权",
        "method": "qr",
        "authorized_at": LATER,
    },
    "application_reference": "SQ20261124A1B2C3D4",
    "program_label": "最低生活保障",
    "applicant_name": APPLICANT,
    "revocable": True,
}
AUTH_REQUEST_DONE = {
    **AUTH_REQUEST_OUT,
    "status": "authorized",
    "status_label": "已授权",
    "method": "qr",
    "authorized_at": LATER,
}
AUTH_TOKEN = "3q2-7wQk1vXb9ZtR4mNc8yLp0sDf6hJg"  # noqa: S105 - an example, not a secret
QR_OUT = {
    "token": AUTH_TOKEN,
    "link": f"http://127.0.0.1:5000/h5/authorize#token={AUTH_TOKEN}",
    "expires_at": "2026-11-27T02:15:30+00:00",
    "png_base64": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "svg": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 29 29"><path d="M0 0h7v7H0z"/></svg>',
}
HANDOVER_OUT = {"token": AUTH_TOKEN, "expires_at": "2026-11-24T02:30:30+00:00"}
LETTER_OUT = {
    "member_name": SPOUSE,
    "program": "dibao",
    "program_label": "最低生活保障",
    "application_reference": "SQ20261124K7M2Q9XA",
    "purpose": "家庭经济状况核对",
    "letter_version": "2026-01",
    "letter_hash": "9f2c4e8a1b7d3f60c5e2a9b84d1f7c3e6a0b5d2f8e4c1a7b3d9f6e2c8a4b1d7e",
    "letter_text": "本人同意民政部门为办理社会救助申请，依法查询、核对本人及家庭的收入、财产等经济状况信息……",
    "data_categories": ["户籍", "收入", "银行存款", "房产", "车辆"],
    "validity": "自签署之日起至救助终止",
    "status": "pending",
    "method": "qr",
    "identity_confirmed": True,
    "face_passed": False,
    "expires_at": "2026-11-27T02:15:30+00:00",
}
IDENTITY_IN = {"id_number": SPOUSE_ID}
FACE_VERIFICATION_OUT = {"id": 12, "status": "queued", "reason": None, "message": "正在核验，请稍候"}
FACE_VERIFICATION_DONE = {"id": 12, "status": "passed", "reason": None, "message": "核验通过，请签名"}

# --- reports --------------------------------------------------------------------------------------------
REPORT_IN = {
    "category": "elderly_alone",
    "township_code": TOWNSHIP,
    "village_code": VILLAGE,
    "latitude": 28.3761,
    "longitude": 116.2684,
    "coordinate_system": "gcj02",
    "address": "解放街菜市场对面巷子第三户",
    "person_name": "刘老汉",
    "person_id_number": None,
    "person_phone": None,
    "age_group": "elderly",
    "description": "八十多岁独居，腿脚不便，近一周没见出门",
    "urgency": "urgent",
    "as_role": "grid_worker",
}
REPORT_OUT = {
    "id": 55,
    "reference": "BG20261124P3W8N1QZ",
    "category": "elderly_alone",
    "category_label": "独居老人无人照料",
    "urgency": "urgent",
    "reporter_role": "grid_worker",
    "reporter_role_label": "网格员",
    "township_code": TOWNSHIP,
    "village_code": VILLAGE,
    "address": "解放街菜市场对面巷子第三户",
    "latitude": 28.3761,
    "longitude": 116.2684,
    "coordinate_system": "gcj02",
    "person_name": "刘老汉",
    "person_id_number_masked": None,
    "age_group": "elderly",
    "description": "八十多岁独居，腿脚不便，近一周没见出门",
    "status": "new",
    "status_label": "待联系",
    "outcome": None,
    "outcome_label": None,
    "is_duplicate": False,
    "created_at": NOW,
}
CREATED_REPORT_OUT = {**REPORT_OUT, "message": "已收到您的报告，民和镇将在1个工作日内联系核实"}
PHOTO_OUT = {"id": 9, "content_type": "image/jpeg", "size": 90412, "created_at": NOW}
REPORT_DETAIL_OUT = {
    **REPORT_OUT,
    "status": "contacted",
    "status_label": "已联系",
    "progress": [
        {"at": NOW, "text": "已收到您的报告，民和镇将在1个工作日内联系核实"},
        {"at": "2026-11-24T06:00:00+00:00", "text": "工作人员已联系当事人"},
    ],
    "photos": [PHOTO_OUT],
}
CATEGORIES_OUT = {
    "categories": [{"code": "elderly_alone", "label": "独居老人无人照料"}, {"code": "other", "label": "其他困难"}],
    "urgency": [{"code": "urgent", "label": "紧急"}, {"code": "normal", "label": "一般"}],
    "age_groups": [{"code": "elderly", "label": "老年人（60岁以上）"}],
    "coordinate_systems": [{"code": "wgs84", "label": "WGS-84（GPS）"}, {"code": "gcj02", "label": "GCJ-02（国测局）"}],
    "reporter_roles": [{"code": "resident", "label": "居民"}, {"code": "grid_worker", "label": "网格员"}],
}

# --- demo cases, health ---------------------------------------------------------------------------------
DEMO_CASE_IN = {"township_code": TOWNSHIP, "title": "演示：独居老人走访"}
DEMO_CASE_OUT = {
    "id": 3,
    "reference": "JZ20261124A1B2C3D4",
    "kind": "demo",
    "title": "演示：独居老人走访",
    "status": "open",
    "status_label": "待办理",
    "township_code": TOWNSHIP,
    "due_date": "2026-11-27",
    "created_at": NOW,
}
HEALTH_OUT = {"status": "ok", "database": "ok", "broker": "ok", "pending_tasks": 0}


BENEFIT_OUT = {
    "id": 12,
    "reference": "BZ20261202A1B2C3D4",
    "program": "dibao",
    "program_label": "最低生活保障",
    "status": "active",
    "status_label": "在保",
    "status_reason": None,
    "monthly_amount": "905.00",
    "member_count": 3,
    "start_month": "2026-12",
    "end_month": None,
    "months_paid": 2,
    "last_paid_month": "2027-01",
    "next_review_date": "2027-06-01",
    "township_code": "360124100",
    "township_name": "民和镇",
    "bank_account_masked": "****0123",
    "open_transfer": None,
    "can_transfer": True,
    "appeal_route": "如对决定不服，可自收到通知之日起60日内申请行政复议，或6个月内提起行政诉讼",
}
BENEFIT_DETAIL_OUT = {
    **BENEFIT_OUT,
    "history": [
        {
            "kind": "created",
            "kind_label": "纳入救助",
            "text": "纳入救助：每月905.00元，自2026年12月起",
            "reason": None,
            "at": "2026-12-02T08:30:00+00:00",
        }
    ],
}

# --- eligibility transfers (资格转移): miniprogram_api/me_transfers -------------------------------------------
TRANSFER_OUT = {
    "id": 7,
    "reference": "ZY20261203A1B2C3D4",
    "enrollment_id": 12,
    "program": "dibao",
    "program_label": "最低生活保障",
    "status": "released",
    "status_label": "原县已确认，待新县接收",
    "text": "原县已确认，发放至2026年12月；等待南昌县莲塘镇接收，接收后自2027年1月起发放",
    "from_county_code": "360124",
    "from_county_name": "进贤县",
    "from_township_code": "360124100",
    "from_township_name": "民和镇",
    "to_county_code": "360121",
    "to_county_name": "南昌县",
    "to_township_code": "360121100",
    "to_township_name": "莲塘镇",
    "to_village_code": "360121100001",
    "to_village_name": "府前路社区居委会",
    "to_address": "莲塘镇府前路88号",
    "reason": "户籍随子女迁入南昌县莲塘镇",
    "end_month": "2026-12",
    "first_month_new_county": "2027-01",
    "new_enrollment_id": None,
    "refusal_reason": None,
    "can_cancel": False,
    "created_at": "2026-12-03T02:30:00+00:00",
    "updated_at": "2026-12-04T06:10:00+00:00",
}
TRANSFER_REQUESTED_OUT = {
    **TRANSFER_OUT,
    "status": "requested",
    "status_label": "待原县确认",
    "text": "已申请转往南昌县莲塘镇，等待原县民政部门确认",
    "end_month": None,
    "first_month_new_county": None,
    "can_cancel": True,
    "updated_at": "2026-12-03T02:30:00+00:00",
}
TRANSFER_CANCELLED_OUT = {
    **TRANSFER_REQUESTED_OUT,
    "status": "cancelled",
    "status_label": "已撤回",
    "text": "已撤回",
    "can_cancel": False,
    "updated_at": "2026-12-03T03:00:00+00:00",
}
