"""OpenAPI exports of a REST API, as API Gateway writes them (`get-export` with the
`x-amazon-apigateway-*` extensions), made from what API Gateway has: a RestApi `Body` (a
SAM translation), or the `AWS::ApiGateway::Resource`/`Method`/`Authorizer` tree of a
CloudFormation or CDK-synthesized template. Swagger 2 and OpenAPI 3 carry the same
methods and authorizers; only where the schemes live differs.
"""

from __future__ import annotations

import copy
from typing import Any

OPERATION_KEYS = {
    "GET": "get",
    "PUT": "put",
    "POST": "post",
    "DELETE": "delete",
    "OPTIONS": "options",
    "HEAD": "head",
    "PATCH": "patch",
    "ANY": "x-amazon-apigateway-any-method",
}


def as_swagger2(body: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(body)
    if "openapi" in doc:
        doc.pop("openapi")
        schemes = (doc.pop("components", {}) or {}).get("securitySchemes") or {}
        doc = {"swagger": "2.0", **doc, "securityDefinitions": schemes}
        doc.pop("servers", None)
    return doc


def as_openapi3(body: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(body)
    if "swagger" in doc:
        doc.pop("swagger")
        schemes = doc.pop("securityDefinitions", {}) or {}
        doc.pop("basePath", None)
        components = doc.pop("components", {}) or {}
        components["securitySchemes"] = schemes
        doc = {"openapi": "3.0.1", **doc, "components": components}
    return doc


def rest_api_bodies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every `AWS::ApiGateway::RestApi` with an inline `Body`, by logical id."""
    return {
        rid: r["Properties"]["Body"]
        for rid, r in (template.get("Resources") or {}).items()
        if r.get("Type") == "AWS::ApiGateway::RestApi" and isinstance((r.get("Properties") or {}).get("Body"), dict)
    }


def only_api(template: dict[str, Any], api_id: str) -> dict[str, Any]:
    """The template without its other REST APIs (one export is one API)."""
    out = copy.deepcopy(template)
    out["Resources"] = {
        rid: r
        for rid, r in out["Resources"].items()
        if r.get("Type") != "AWS::ApiGateway::RestApi" or rid == api_id
    }
    return out


def _header(source: str | None) -> str:
    source = source or "method.request.header.Authorization"
    return source.removeprefix("method.request.header.")


def export_resource_tree(template: dict[str, Any]) -> dict[str, Any]:
    """The Swagger 2 export of the REST API a template builds from Resource, Method and
    Authorizer resources."""
    resources = template.get("Resources") or {}

    def path_of(ref: Any, depth: int = 0) -> str:
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:
            return "/"
        rid = ref["Ref"]
        props = resources[rid]["Properties"]
        parent = path_of(props["ParentId"], depth + 1)
        return parent.rstrip("/") + "/" + props["PathPart"]

    schemes: dict[str, Any] = {}
    for rid, r in resources.items():
        if r.get("Type") != "AWS::ApiGateway::Authorizer":
            continue
        p = r["Properties"]
        kind = p.get("Type", "")
        authorizer: dict[str, Any] = {"type": kind.lower()}
        if kind == "COGNITO_USER_POOLS":
            authorizer["providerARNs"] = p["ProviderARNs"]
        if "IdentityValidationExpression" in p:
            authorizer["identityValidationExpression"] = p["IdentityValidationExpression"]
        if "AuthorizerResultTtlInSeconds" in p:
            authorizer["authorizerResultTtlInSeconds"] = p["AuthorizerResultTtlInSeconds"]
        schemes[rid] = {
            "type": "apiKey",
            "name": _header(p.get("IdentitySource")),
            "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools" if kind == "COGNITO_USER_POOLS" else "custom",
            "x-amazon-apigateway-authorizer": authorizer,
        }
    paths: dict[str, Any] = {}
    for rid, r in resources.items():
        if r.get("Type") != "AWS::ApiGateway::Method":
            continue
        p = r["Properties"]
        op: dict[str, Any] = {"operationId": rid}
        kind = p.get("AuthorizationType", "NONE")
        requirement: dict[str, list[str]] = {}
        if kind == "COGNITO_USER_POOLS":
            requirement[p["AuthorizerId"]["Ref"]] = list(p.get("AuthorizationScopes") or [])
        elif kind == "CUSTOM":
            requirement[p["AuthorizerId"]["Ref"]] = []
        elif kind == "AWS_IAM":
            schemes["sigv4"] = {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authtype": "awsSigv4",
            }
            requirement["sigv4"] = []
        if p.get("ApiKeyRequired") is True:
            schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
            requirement["api_key"] = []
        if requirement:
            op["security"] = [requirement]
        integration = p.get("Integration") or {}
        if integration.get("Type"):
            op["x-amazon-apigateway-integration"] = {"type": integration["Type"].lower()}
        paths.setdefault(path_of(p["ResourceId"]), {})[OPERATION_KEYS[p["HttpMethod"].upper()]] = op
    return {"swagger": "2.0", "info": {"title": "export"}, "paths": paths, "securityDefinitions": schemes}
