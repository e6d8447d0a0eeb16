"""The fuzz test's requests: generated from the OpenAPI description, the crawled forms and hostile content."""
import re
from urllib.parse import parse_qsl, quote, urlencode

from hypothesis import strategies as st
from werkzeug.routing import AnyConverter, IntegerConverter

from app.api.openapi import SPEC
from tests.core.fuzz_content import (ANY_JSON, BOUNDARY, CONTENT_TYPES, FIELD_NAMES, NUMBER, RAW_JSON, TEXT,
                                     csv_files, json_text)
from tests.core.fuzz_targets import sample_value

REQUEST_LINE = 4094  # gunicorn's limit_request_line: a longer URL is refused before the app sees it
QUERY_NAMES = ["after", "before", "limit", "q", "kind", "status", "label", "cursor", "since", "customer", "page",
               "customer_q", "product_q", "customer_after", "email", "reason", "source", "next", "revision"]
PATH_TEXT = ["²", "-1", "abc", "0", "1.5", "..", "%2e%2e", "a/b", "x" * 300, "pause", "cancel", "welcome"]
LONG_FIELDS = {"body", "body_html", "rule", "rrule", "text", "template"}
ARGUMENT_RE = re.compile(r"<(?:[^>]*:)?(\w+)>")


def _operation(rule_text, method):
    path = ARGUMENT_RE.sub(r"{\1}", rule_text)[len("/api/v1"):]
    return SPEC["paths"].get(path, {}).get(method.lower()) if rule_text.startswith("/api/v1") else None


def to_bytes(text: str) -> bytes:
    """``text`` as UTF-8 bytes; a lone surrogate is sent as the bytes that encode it."""
    return text.encode("utf-8", "surrogatepass")


def fit_request_line(url: str, query: dict) -> dict:
    """``query`` with its longest values halved until the request line fits in REQUEST_LINE bytes."""
    query = {k: str(v) for k, v in query.items()}
    while query and len(url) + len(urlencode({k: to_bytes(v) for k, v in query.items()})) > REQUEST_LINE - 20:
        longest = max(query, key=lambda k: len(query[k]))
        query[longest] = query[longest][:len(query[longest]) // 2]
    return query


def from_schema(schema) -> st.SearchStrategy:
    """Values that fit ``schema`` (a JSON Schema of the OpenAPI description), roughly, with hostile text."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "string")
    if isinstance(kinds, list):
        return st.one_of(*(from_schema({**schema, "type": kind}) for kind in kinds))
    if kinds == "integer":
        return st.one_of(st.integers(schema.get("minimum", -10), schema.get("maximum", 10**6)), NUMBER)
    if kinds == "boolean":
        return st.booleans()
    if kinds == "null":
        return st.none()
    if kinds == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=min(5, schema.get("maxItems", 5)))
    if kinds == "object":
        return st.fixed_dictionaries({}, optional={k: st.one_of(from_schema(v), ANY_JSON)
                                                   for k, v in schema.get("properties", {}).items()})
    if schema.get("format") == "date-time":
        return st.sampled_from(["2030-01-01T10:00", "2031-06-30T23:59:00Z", "2020-01-01T00:00", "x"])
    return TEXT


@st.composite
def urls(draw, route, ids):
    """A URL of ``route``: one the crawl found, or its rule filled with known ids or hostile text."""
    crawled = sorted(route.urls)
    if crawled and draw(st.integers(0, 2)) > 0:
        return draw(st.sampled_from(crawled))
    url = route.rule.rule
    for name in route.rule.arguments:
        converter = route.rule._converters[name]
        choices = re.findall(r"\w+", converter.regex) if isinstance(converter, AnyConverter) else []
        known = [str(i) for i in ids] if isinstance(converter, IntegerConverter) else (
            choices or ["domain_mapping", "core_emails", "welcome", "content", "x.css"])
        value = draw(st.one_of(st.sampled_from(known), st.sampled_from(PATH_TEXT), NUMBER.map(str), TEXT))
        url = re.sub(r"<(?:[^>]*:)?%s>" % name, quote(to_bytes(value[:100]), safe="") or "0", url, count=1)
    return url


@st.composite
def requests_for(draw, route, method, role, ids):
    """(url, query, body bytes or None, content type or None, file or None) for one target."""
    operation = _operation(route.rule.rule, method) or {}
    url, _, crawled_query = draw(urls(route, ids)).partition("?")
    query = dict(parse_qsl(crawled_query))
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and draw(st.booleans()):
            query[parameter["name"]] = draw(st.one_of(from_schema(parameter.get("schema", {})), TEXT, NUMBER))
    if draw(st.integers(0, 3)) == 0:
        query[draw(st.sampled_from(QUERY_NAMES + sorted(route.fields)))] = draw(st.one_of(TEXT, NUMBER))
    names = sorted(set(route.fields) | set(operation.get("requestBody", {}).get("content", {})
                                           .get("application/json", {}).get("schema", {}).get("properties", {})))
    names += draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=2))
    seen = {name: sorted(route.fields.get(name, ())) for name in names}
    fields = {name: draw(st.one_of(st.sampled_from(seen[name]), TEXT, NUMBER.map(str)) if seen[name] else
                         st.one_of(TEXT, NUMBER.map(str)), label=name)
              for name in names if draw(st.integers(0, 4), label="keep " + name) > 0}
    json_route = bool(operation) or url.split("?")[0].endswith(".json") or "/api/" in url
    mode = draw(st.sampled_from(["json"] * 6 + ["raw", "form", "multipart"] if json_route else
                                ["form"] * 6 + ["multipart", "json", "raw"]))
    if method in ("GET", "DELETE") and draw(st.integers(0, 4)) > 0:
        return url, query, None, None, None
    if mode == "json":
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        typed = {name: draw(st.one_of(st.just(value), ANY_JSON)) for name, value in fields.items()}
        value = draw(st.one_of(st.just(typed), from_schema(schema), ANY_JSON) if schema else
                     st.one_of(st.just(typed), ANY_JSON))
        return url, query, json_text(value), draw(st.sampled_from(["application/json"] * 4 + CONTENT_TYPES)), None
    if mode == "raw":
        raw = draw(st.one_of(st.sampled_from(RAW_JSON), TEXT))
        raw = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
        return url, query, raw, draw(st.sampled_from(CONTENT_TYPES)), None
    upload = None
    if route.files or mode == "multipart":
        upload = (draw(st.sampled_from(sorted(route.files) or ["file"])), draw(csv_files()),
                  draw(st.sampled_from(["x.csv", "", "../../x.csv", "a\u202egpj.csv", "x" * 300])))
    return url, query, fields, None, upload


def boundary_requests(adapter, route, method, ids) -> list:
    """The explicit examples of a target: each BOUNDARY value in every free-text field at once."""
    operation = _operation(route.rule.rule, method) or {}
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    texts = route.texts | {name for name, spec in schema.get("properties", {}).items()
                           if "string" in spec.get("type", ()) and "enum" not in spec and "format" not in spec}
    if method not in ("POST", "PUT", "PATCH") or not texts:
        return []
    url = sorted(route.urls)[0] if route.urls else adapter.build(
        route.endpoint, {name: sample_value(route.rule, name, ids) for name in route.rule.arguments})
    url, _, query = url.partition("?")
    others = {name: sorted(values)[0] for name, values in route.fields.items() if values and name not in texts}
    json_route = bool(operation) or url.endswith(".json") or "/api/" in url
    upload = (sorted(route.files)[0], b"email\nann@example.com\n", "x.csv") if route.files else None
    # The value at full size goes to the long-text fields only (else to one field): every field at 200,000
    # characters would pass the JSON limit (413 before any field is read) or make a form body of many
    # megabytes, which werkzeug alone takes ~0.3 s a megabyte to parse (reported: no form-size limit).
    big = (route.areas | (texts & LONG_FIELDS)) or set(sorted(texts)[:1])
    requests = []
    for value in BOUNDARY.values():
        fields = {name: value if name in big else value[:200] for name in texts}
        requests.append((url, dict(parse_qsl(query)), json_text(fields), "application/json", None) if json_route
                        else (url, dict(parse_qsl(query)), {**others, **fields}, None, upload))
    return requests
