"""Page numbers stay within what a query can skip: ``?page=10^21`` is a 422, not an OFFSET overflow."""

from __future__ import annotations

from typing import Any

from webargs.flaskparser import FlaskParser, abort

MAX_PAGE = 100_000  # 100 000 pages of up to 100 items: far beyond any list a person pages through


class BoundedPaginationParser(FlaskParser):
    """flask-smorest's pagination parser, plus an upper bound on ``page`` (``page_size`` is already
    bounded by the endpoint's maximum, and both by a lower bound of 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type, Any] = {}

    def _get_schema(self, argmap: Any, req: Any) -> Any:
        """One instance per pagination schema class (flask-smorest passes the class: webargs would build a
        new schema, deep-copying its fields, on every request). Loading does not change a schema."""
        if isinstance(argmap, type):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = super()._get_schema(argmap, req)
            return schema
        return super()._get_schema(argmap, req)

    def parse(self, argmap: Any, req: Any = None, *args: Any, **kwargs: Any) -> Any:
        params = super().parse(argmap, req, *args, **kwargs)
        if params.page > MAX_PAGE:
            abort(422, messages={"query": {"page": [f"页码应在1到{MAX_PAGE}之间"]}})
        return params


PAGINATION_PARSER = BoundedPaginationParser()


def pagination_metadata(page: int, page_size: int, item_count: int) -> dict:
    """flask-smorest's ``_make_pagination_metadata`` (the X-Pagination header), without building and dumping a
    PaginationMetadataSchema on every list request: the same keys in the same order, the same values
    (tests/api/test_list_serialization.py compares them)."""
    meta: dict[str, int] = {"total": item_count}
    if item_count == 0:
        meta["total_pages"] = 0
        return meta
    last_page = (item_count - 1) // page_size + 1
    meta["total_pages"] = last_page
    meta["first_page"] = 1
    meta["last_page"] = last_page
    if page <= last_page:
        meta["page"] = page
        if page > 1:
            meta["previous_page"] = page - 1
        if page < last_page:
            meta["next_page"] = page + 1
    return meta
