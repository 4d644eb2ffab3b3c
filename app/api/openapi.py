"""The OpenAPI document of the endpoints, which FastAPI cannot see since they are plain Starlette routes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from app.api.operation import Operation

PATH_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")  # Starlette's `{name}` or `{name:convertor}`
ERROR_RESPONSE = {"description": "OpenAI error body", "content": {"application/json": {"schema": {"type": "object"}}}}


def install_openapi(app: FastAPI, endpoints: Iterable[Operation]) -> None:
    base_openapi = app.openapi
    endpoints = tuple(endpoints)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base_openapi()
            paths = schema.setdefault("paths", {})
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for endpoint in endpoints:
                path = PATH_PARAMETER.sub(r"{\1}", endpoint.path)
                paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint, components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override point


def _operation(endpoint: Operation, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.handler.__name__,
        "tags": [endpoint.tag],
        "responses": {"200": {"description": "Success"}, "default": ERROR_RESPONSE},
    }
    names = PATH_PARAMETER.findall(endpoint.path)
    if names:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names
        ]
    if endpoint.body is not None:
        model_schema = endpoint.body.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[endpoint.body.__name__] = model_schema
        ref = {"$ref": f"#/components/schemas/{endpoint.body.__name__}"}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    return operation
