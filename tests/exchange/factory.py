"""Departments and clients for the exchange tests (the models of core.exchange.models, written directly)."""

from __future__ import annotations

import os
import tempfile

from core import crypto
from core.actor import Actor
from core.database import db
from core.exchange.models import ApiClient, Department


def department(code: str = "jx-gongan", kind: str = "public_security", region: str = "360124") -> Department:
    dept = Department(code=code, name=f"{code}部门", kind=kind, region_code=region)
    db.session.add(dept)
    db.session.flush()
    return dept


def client(dept: Department, categories: list[str], key_id: str | None = None) -> ApiClient:
    row = ApiClient(
        department_id=dept.id,
        key_id=key_id or f"k-{dept.code}",
        name="测试客户端",
        secret_enc=crypto.encrypt("s" * 32),
        categories=categories,
        status="active",
    )
    db.session.add(row)
    db.session.flush()
    return row


def department_actor(row: ApiClient, dept: Department) -> Actor:
    return Actor(kind="department", id=row.id, roles=("department",), region_code=dept.region_code)


def officer(username: str, role: str, region: str | None) -> Actor:
    from core.accounts import services as accounts
    from core.actor import SYSTEM

    row, _ = accounts.create_officer(
        SYSTEM, username=username, password="Correct-Horse-Battery-9", role=role, region_code=region
    )
    return accounts.officer_actor(row)


def temp_file(data: bytes, suffix: str = ".csv") -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path
