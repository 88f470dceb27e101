"""The OpenAPI 3.1 document of the admin API, served at GET /api/openapi.json.

Kept in Python beside the views (not a data file) so it ships in every install and takes its bounds
from the same constants the views enforce; a test checks that it names exactly the routes Flask serves.
"""

from __future__ import annotations

from typing import Any

from ..clock import MAX_ADVANCE_SECONDS, MAX_ADVANCE_WORKING_DAYS, MAX_SPEED, MIN_SPEED
from ..faults import ACTIONS, MAX_COUNT, MAX_DELAY
from ..specs.variations import STYLE_CHOICES
from .auth import MAX_BODY

MAX_PAGE = 1000  # items of one list answer; more come by cursor (Link: rel="next", X-Next-Cursor)
MAX_TEXT = 256  # characters of a free text field (motif, email, password)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(description: str, schema: dict[str, Any], paged: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if paged:
        answer["headers"] = {
            "Link": {"description": 'the next page: `</api/...&cursor=...>; rel="next"` (absent on the last page)',
                     "schema": {"type": "string"}},
            "X-Next-Cursor": {"description": "the cursor of the next page (absent on the last page)",
                              "schema": {"type": "string"}}}
    return answer


def _param(name: str, where: str, description: str, schema: dict[str, Any], required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


TENANT_REQUIRED = _param("tenant", "query", "the tenant's code (e.g. DEMO); a tenant token may name only its own",
                         {"type": "string", "minLength": 1, "maxLength": 8}, required=True)
TENANT_OPTIONAL = _param("tenant", "query", "one tenant's code; without it every tenant's (admin token)",
                         {"type": "string", "maxLength": 8})
LIMIT = _param("limit", "query", f"items per page, at most {MAX_PAGE} (more is served as {MAX_PAGE}, with a "
               "cursor to the rest)", {"type": "integer", "minimum": 1})
CURSOR = _param("cursor", "query", "the X-Next-Cursor (or Link rel=next) of the previous page; opaque",
                {"type": "string"})
REF = _param("ref", "path", "the order's ReferenceCommandePriseInterneOC", {"type": "string", "minLength": 1},
             required=True)

FILE_ID = _param("file_id", "path", "the id of GET /api/files", {"type": "integer"}, required=True)
_BYTES = {"description": "the file's raw bytes",
          "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


BAD = _error("invalid parameter or body (the detail says which and why)")
UNAUTHORIZED = _error("no token, or an unknown one, while an admin token is configured")
FORBIDDEN = _error("the token is not allowed here (a tenant token on an admin call or another tenant), "
                   "or a cross-site write (Origin is not the Host)")
TOO_LARGE = _error(f"body over {MAX_BODY} bytes")
NOT_JSON = _error("a mutating call without Content-Type: application/json")
MISDIRECTED = _error("with no admin token configured, a Host header that is not a loopback name")
COMMON = {"401": UNAUTHORIZED, "403": FORBIDDEN, "421": MISDIRECTED}
WRITE = {**COMMON, "400": BAD, "413": TOO_LARGE, "415": NOT_JSON}

#: The stages are the operators' spec packs' (stages.yaml, and each code's stage).
STAGE = "where the operator says no: a stage of the operators' spec packs (GET /api/rejects: each code's stage)"
SCHEMAS: dict[str, Any] = {
    "Reject": {"type": "object", "required": ["code", "stage", "label"],
               "properties": {"code": {"type": "string"}, "stage": {"type": "string", "description": STAGE},
                              "label": {"type": "string"}}},
    "NewFaultRule": {
        "type": "object", "additionalProperties": False,
        "description": "reject: the next `count` matching orders get `code` at `stage` (default: the code's own "
                       "stage); delay: the stage's answer comes `working_days` later; reprovision: a Notif_Reprov "
                       "follows the CR. ref / address (CodeAdresseImmeuble) narrow the orders it matches.",
        "properties": {"action": {"type": "string", "enum": list(ACTIONS), "default": "reject"},
                       "stage": {"type": "string", "maxLength": 8, "description": STAGE},
                       "code": {"type": "string", "description": "a code of GET /api/rejects"},
                       "working_days": {"type": "integer", "minimum": 1, "maximum": MAX_DELAY},
                       "motif": {"type": "string", "maxLength": 100}, "ref": {"type": "string", "maxLength": 30},
                       "address": {"type": "string", "maxLength": 10}, "comment": {"type": "string", "maxLength": 256},
                       "count": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_COUNT, "default": 1,
                                 "description": "null: every matching order"}}},
    "FaultRule": {"allOf": [_ref("NewFaultRule"), {
        "type": "object", "required": ["id", "tenant", "remaining", "fired"],
        "properties": {"id": {"type": "integer"}, "tenant": {"type": "string"},
                       "remaining": {"type": ["integer", "null"]}, "fired": {"type": "integer"}}}]},
    "Removed": {"type": "object", "required": ["removed"], "properties": {"removed": {"type": "integer"}}},
    "AnswerStyle": {"type": "object", "additionalProperties": False,
                    "description": "a key left out takes its first value (the files as the operator writes them)",
                    "properties": {key: {"type": "string", "enum": list(values)}
                                   for key, values in STYLE_CHOICES.items()}},
    "Error": {"type": "object", "required": ["error", "detail"],
              "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
    "Clock": {"type": "object", "required": ["now", "frozen", "speed", "working_day", "holiday"],
              "properties": {"now": {"type": "string", "description": "virtual French civil time, ISO 8601"},
                             "frozen": {"type": "boolean"}, "speed": {"type": "number"},
                             "working_day": {"type": "boolean"}, "holiday": {"type": ["string", "null"]}}},
    "Health": {"type": "object", "required": ["status", "version", "clock"],
               "description": "anonymous callers (with an admin token configured) get status, version, clock",
               "properties": {"status": {"type": "string", "enum": ["ok"]}, "version": {"type": "string"},
                              "endpoints": {"type": "object", "additionalProperties": {"type": "string"}},
                              "tenants": {"type": "array", "items": {"type": "string"}},
                              "networks": {"type": "array", "items": {"type": "string"}},
                              "clock": _ref("Clock")}},
    "Address": {"type": "object", "description": "an IPE line keyed by its column names, with its sockets",
                "required": ["ReferencePrestationPM", "ReferencePrise", "Lignes", "Escaliers", "Etages"],
                "properties": {"ReferencePrestationPM": {"type": "string"},
                               "ReferencePrise": {"type": "array", "items": {"type": "string"}},
                               "Lignes": {"type": "array", "items": {"type": "object"}},
                               "Escaliers": {"type": "array", "items": {"type": "string"}},
                               "Etages": {"type": "array", "items": {"type": "string"}}}},
    "Order": {"type": "object",
              "required": ["tenant", "ReferenceCommandePriseInterneOC", "ReferencePrestationPrise", "network",
                           "state", "created", "updated", "data", "history"],
              "properties": {"tenant": {"type": "string"}, "ReferenceCommandePriseInterneOC": {"type": "string"},
                             "ReferencePrestationPrise": {"type": "string"}, "network": {"type": "string"},
                             "state": {"type": "string"}, "created": {"type": "string"},
                             "updated": {"type": "string"}, "data": {"type": "object"},
                             "history": {"type": "array", "items": {
                                 "type": "object", "required": ["at_virtual", "step", "state", "detail"],
                                 "properties": {"at_virtual": {"type": "string"}, "step": {"type": "string"},
                                                "state": {"type": "string"}, "detail": {"type": "string"}}}}}},
    "JournalEntry": {"type": "object",
                     "required": ["id", "at_virtual", "at_real", "tenant", "channel", "direction", "flow",
                                  "filename", "outcome", "detail"],
                     "properties": {"id": {"type": "integer"}, "at_virtual": {"type": "string"},
                                    "at_real": {"type": "number"}, "tenant": {"type": "string"},
                                    "channel": {"type": "string"}, "direction": {"type": "string"},
                                    "flow": {"type": "string"}, "filename": {"type": "string"},
                                    "outcome": {"type": "string"}, "detail": {"type": "string"}}},
    "File": {"type": "object",
             "required": ["id", "tenant", "channel", "location", "filename", "flow", "lines", "at_virtual",
                          "delivered"],
             "properties": {"id": {"type": "integer"}, "tenant": {"type": "string"}, "channel": {"type": "string"},
                            "location": {"type": "string"}, "filename": {"type": "string"},
                            "flow": {"type": "string"}, "lines": {"type": "integer"},
                            "at_virtual": {"type": "string"}, "delivered": {"type": "integer"},
                            "at_real": {"type": "number", "description": "real time of emission (Unix seconds): "
                                        "orders the files of one frozen virtual moment"}}},
    "Mail": {"type": "object",
             "required": ["id", "tenant", "operator", "sender", "recipient", "subject", "filename", "relayed", "size"],
             "properties": {"id": {"type": "integer"}, "tenant": {"type": "string"},
                            "operator": {"type": "string"}, "sender": {"type": "string"},
                            "recipient": {"type": "string", "description": "the tenant's address"},
                            "subject": {"type": "string", "description": "the attached file's name"},
                            "filename": {"type": "string", "description": "the attached answer file ('' for a "
                                                                          "reply about a bad mail)"},
                            "outbound_id": {"type": ["integer", "null"], "description": "its id in GET /api/files"},
                            "at_real": {"type": "number", "description": "real time it was kept (Unix seconds)"},
                            "relayed": {"type": "boolean", "description": "taken by the relay host"},
                            "relay_error": {"type": "string"},
                            "size": {"type": "integer", "description": "bytes of the .eml"}}},
    "Inbound": {"type": "object",
                "required": ["id", "tenant", "operator", "channel", "location", "filename", "at_virtual", "sha256",
                             "size", "outcomes"],
                "properties": {"id": {"type": "integer"}, "tenant": {"type": "string"},
                               "operator": {"type": "string"}, "channel": {"type": "string"},
                               "location": {"type": "string", "description": "the folder it came through"},
                               "filename": {"type": "string"},
                               "at_virtual": {"type": "string", "description": "virtual time of receipt"},
                               "at_real": {"type": "number", "description": "real time of receipt (Unix seconds)"},
                               "sha256": {"type": "string"},
                               "size": {"type": ["integer", "null"],
                                        "description": "bytes; null for files received before content was kept"},
                               "outcomes": {"type": "array", "items": {"type": "string"},
                                            "description": "the journal's outcomes for that file name"}}},
    "Tenant": {"type": "object", "required": ["code", "login", "email", "api_token"],
               "properties": {"code": {"type": "string"}, "login": {"type": "string"}, "email": {"type": "string"},
                              "api_token": {"type": "boolean", "description": "whether it has an API token"}}},
    "NewTenant": {"type": "object", "required": ["code", "password"], "additionalProperties": False,
                  "properties": {"code": {"type": "string", "pattern": "^[A-Za-z0-9]{2,8}$",
                                          "description": "Interop code, upper-cased"},
                                 "password": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                                 "email": {"type": "string", "maxLength": MAX_TEXT},
                                 "login": {"type": "string", "pattern": "^[!-~]{1,64}$",
                                           "description": "FTP login (default: the code)"}}},
    "CreatedTenant": {"type": "object", "required": ["code", "login", "folders", "api_token"],
                      "properties": {"code": {"type": "string"}, "login": {"type": "string"},
                                     "folders": {"type": "array", "items": {"type": "string"}},
                                     "api_token": {"type": "string",
                                                   "description": "the tenant's API token, shown this once"}}},
    "Advance": {"type": "object", "additionalProperties": False, "minProperties": 1,
                "description": "at least one positive amount; the clock only moves forward",
                "properties": {"hours": {"type": "number", "minimum": 0, "maximum": MAX_ADVANCE_SECONDS // 3600},
                               "working_days": {"type": "integer", "minimum": 0,
                                                "maximum": MAX_ADVANCE_WORKING_DAYS},
                               "seconds": {"type": "number", "minimum": 0, "maximum": MAX_ADVANCE_SECONDS},
                               "wait": {"type": "number", "minimum": 0, "maximum": 60,
                                        "description": "seconds to wait for the due events before answering "
                                                       "202 with a handle (default 20)"}}},
    "AdvanceState": {"type": "object", "required": ["id", "poll", "state"],
                     "properties": {"id": {"type": "integer"}, "poll": {"type": "string"},
                                    "state": {"type": "string", "enum": ["running", "done", "failed"]},
                                    "due_events": {"type": "integer", "description": "left to run (running)"},
                                    "error": {"type": "string", "description": "why it failed (failed)"},
                                    "clock": _ref("Clock")}},
    "Resume": {"type": "object", "additionalProperties": False,
               "properties": {"speed": {"type": "number", "minimum": MIN_SPEED, "maximum": MAX_SPEED,
                                        "description": "virtual seconds per real second (default: as before)"}}},
    "Empty": {"type": "object", "additionalProperties": False, "maxProperties": 0},
    "Operator": {"type": "object", "properties": {
        "operator": {"type": "string"}, "name": {"type": "string"},
        "endpoints": {"type": "object", "additionalProperties": {"type": "string"}},
        "networks": {"type": "array", "items": {"type": "object"}},
        "mailboxes": {"type": "object", "additionalProperties": {"type": "string"},
                      "description": "area -> the mailbox address where OCs send that area's files by mail"},
        "folders": {"type": "array", "items": {"type": "object"}},
        "capabilities": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "areas": {"type": "array", "items": {"type": "string"}},
            "channels": {"type": "array", "items": {"type": "string"}},
            "events": {"type": "array", "items": {"type": "string"}},
            "actions": {"type": "array", "items": {"type": "string"}}}}}}},
    "ActionDone": {"type": "object", "properties": {
        "operator": {"type": "string"}, "capability": {"type": "string"}, "action": {"type": "string"},
        "tenant": {"type": "string"}, "done": {"type": "boolean"},
        "result": {"type": "object", "description": "what the action answers (empty for most)"}}},
    "Reprovision": {"type": "object", "additionalProperties": False,
                    "properties": {"motif": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT,
                                             "default": "Fibre HS"}}},
}


def _operation(summary: str, access: str, responses: dict[str, Any], parameters: list | None = None,
               body: dict[str, Any] | None = None, public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "description": f"Access: {access}.",
                          "operationId": summary.split(":")[0], "responses": responses}
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = body
    if public:
        op["security"] = [{}]
    return op


PATHS: dict[str, Any] = {
    "/api/health": {"get": _operation(
        "health: status, version and clock; endpoints, tenants and networks for token holders",
        "anyone (anonymous callers see only status, version and clock when an admin token is configured)",
        {"200": _ok("how the sandbox is", _ref("Health")), "401": UNAUTHORIZED, "421": MISDIRECTED},
        public=True)},
    "/api/openapi.json": {"get": _operation(
        "openapi: this document", "anyone",
        {"200": _ok("the OpenAPI document", {"type": "object"}), "401": UNAUTHORIZED, "421": MISDIRECTED},
        public=True)},
    "/api/clock": {"get": _operation(
        "clock_get: the virtual time", "any valid token",
        {"200": _ok("the clock", _ref("Clock")), **COMMON})},
    "/api/clock/advance": {"post": _operation(
        "clock_advance: move the virtual clock forward; answers once the due events ran, or with a handle to "
        "poll when they take longer than `wait` seconds", "admin token",
        {"200": _ok("the clock after the move", _ref("Clock")),
         "202": _ok("still running: poll the handle (Location)", _ref("AdvanceState")), **WRITE},
        body=_json_body(_ref("Advance")))},
    "/api/clock/advance/{handle}": {"get": _operation(
        "clock_advance_state: an advance that answered 202: running (due events left), done or failed",
        "admin token",
        {"200": _ok("the advance's state", _ref("AdvanceState")), "404": _error("no such advance"), **COMMON},
        parameters=[{"name": "handle", "in": "path", "required": True, "schema": {"type": "integer"}}])},
    "/api/clock/freeze": {"post": _operation(
        "clock_freeze: stop virtual time", "admin token",
        {"200": _ok("the frozen clock", _ref("Clock")), **WRITE}, body=_json_body(_ref("Empty"), required=False))},
    "/api/clock/resume": {"post": _operation(
        "clock_resume: restart virtual time, at a given speed", "admin token",
        {"200": _ok("the running clock", _ref("Clock")), **WRITE}, body=_json_body(_ref("Resume"), required=False))},
    "/api/addresses": {"get": _operation(
        "addresses: deployed addresses of a network (IPE columns, PM, sockets)", "any valid token",
        {"200": _ok("one page of addresses", {"type": "array", "items": _ref("Address")}, paged=True),
         "400": BAD, "404": _error("no such network"), **COMMON},
        parameters=[_param("network", "query", "the network's Interop code (default: the first one)",
                           {"type": "string", "maxLength": 8}), LIMIT, CURSOR])},
    "/api/orders": {"get": _operation(
        "orders: a tenant's orders with their state, by creation", "admin token or the tenant's token",
        {"200": _ok("one page of orders", {"type": "array", "items": _ref("Order")}, paged=True),
         "400": BAD, "404": _error("no such tenant"), **COMMON},
        parameters=[TENANT_REQUIRED, LIMIT, CURSOR])},
    "/api/orders/{ref}": {"get": _operation(
        "order: one order, its data and history", "admin token or the tenant's token",
        {"200": _ok("the order", _ref("Order")), "400": BAD, "404": _error("no such tenant or order"), **COMMON},
        parameters=[REF, TENANT_REQUIRED])},
    "/api/orders/{ref}/reprovision": {"post": _operation(
        "reprovision: operator action, a new route optique announced by a Notif_Reprov", "admin token",
        {"200": _ok("the order after it", _ref("Order")), "404": _error("no such tenant"),
         "409": _error("the order cannot be reprovisioned now"), **WRITE},
        parameters=[REF, TENANT_REQUIRED], body=_json_body(_ref("Reprovision"), required=False))},
    "/api/operators": {"get": _operation(
        "operators: every enabled operator, its endpoints, networks, folders and capabilities", "any valid token",
        {"200": _ok("the operators", {"type": "array", "items": _ref("Operator")}), **COMMON})},
    "/api/operators/{operator}/{capability}/{action}": {"post": _operation(
        "operator_action: an action a capability offers (GET /api/operators lists them), for one tenant",
        "admin token",
        {"200": _ok("done", _ref("ActionDone")), "404": _error("no such operator, capability, action or tenant"),
         "409": _error("the action cannot be done now (the detail says why)"), **WRITE},
        parameters=[_param("operator", "path", "the operator's key (GET /api/operators lists them)",
                           {"type": "string"}, True),
                    _param("capability", "path", "the capability's name (e.g. access)", {"type": "string"}, True),
                    _param("action", "path", "the action's name (e.g. reprovision)", {"type": "string"}, True),
                    TENANT_REQUIRED],
        body=_json_body({"type": "object", "description": "the action's arguments"}, required=False))},
    "/api/journal": {"get": _operation(
        "journal: every exchange, newest page first (each page oldest first)",
        "with tenant: admin token or the tenant's token; without: admin token",
        {"200": _ok("one page of journal lines", {"type": "array", "items": _ref("JournalEntry")}, paged=True),
         "400": BAD, **COMMON},
        parameters=[TENANT_OPTIONAL, LIMIT, CURSOR,
                    _param("since", "query", "only lines with a greater id (to follow the journal)",
                           {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}),
                    _param("settled", "query", "true: answered once the engine has taken what was submitted "
                           "before the call (an OC's last downloads and deletions are journaled)",
                           {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"})])},
    "/api/files": {"get": _operation(
        "files: every answer file emitted, delivered or not",
        "with tenant: admin token or the tenant's token; without: admin token",
        {"200": _ok("one page of files", {"type": "array", "items": _ref("File")}, paged=True), "400": BAD, **COMMON},
        parameters=[TENANT_OPTIONAL, LIMIT, CURSOR])},
    "/api/files/{file_id}/content": {"get": _operation(
        "file_content: the bytes of one answer file", "admin token or the tenant's token",
        {"200": _BYTES, "400": BAD, "404": _error("no such tenant, or no such file of that tenant"), **COMMON},
        parameters=[FILE_ID, TENANT_REQUIRED])},
    "/api/inbound": {"get": _operation(
        "inbound: every file the tenant sent, by id (where, when, size, journal outcomes)",
        "admin token or the tenant's token",
        {"200": _ok("one page of inbound files", {"type": "array", "items": _ref("Inbound")}, paged=True),
         "400": BAD, "404": _error("no such tenant"), **COMMON},
        parameters=[TENANT_REQUIRED, LIMIT, CURSOR])},
    "/api/inbound/{inbound_id}/content": {"get": _operation(
        "inbound_content: the bytes of one file the tenant sent, as received", "admin token or the tenant's token",
        {"200": _BYTES, "400": BAD, "404": _error("no such tenant, or no such file of that tenant"), **COMMON},
        parameters=[_param("inbound_id", "path", "the id of GET /api/inbound", {"type": "integer"}, True),
                    TENANT_REQUIRED])},
    "/api/mail": {"get": _operation(
        "mail: the mails sent to the tenant (answers to the files it mailed, replies about bad mails), by id",
        "admin token or the tenant's token",
        {"200": _ok("one page of mails", {"type": "array", "items": _ref("Mail")}, paged=True),
         "400": BAD, "404": _error("no such tenant"), **COMMON},
        parameters=[TENANT_REQUIRED, LIMIT, CURSOR])},
    "/api/mail/{mail_id}.eml": {"get": _operation(
        "mail_eml: one mail sent to the tenant, the whole RFC 5322 message", "admin token or the tenant's token",
        {"200": _BYTES,
         "400": BAD, "404": _error("no such tenant, or no such mail of that tenant"), **COMMON},
        parameters=[_param("mail_id", "path", "the id of GET /api/mail", {"type": "integer"}, True),
                    TENANT_REQUIRED])},
    "/api/rejects": {"get": _operation(
        "rejects: the reject catalogue (Annexe 5f) of the operators' spec packs, with the stage of each code",
        "any valid token", {"200": _ok("every code", {"type": "array", "items": _ref("Reject")}), **COMMON})},
    "/api/faults": {
        "get": _operation("faults: the tenant's fault rules, with how many times each fired",
                          "admin token or the tenant's token",
                          {"200": _ok("the rules", {"type": "array", "items": _ref("FaultRule")}), "400": BAD,
                           "404": _error("no such tenant"), **COMMON}, parameters=[TENANT_REQUIRED]),
        "post": _operation("add_fault: make the operator refuse (a catalogue code at a stage), delay or reprovision "
                           "the tenant's next matching orders", "admin token or the tenant's token",
                           {"201": _ok("the rule", _ref("FaultRule")), "404": _error("no such tenant"), **WRITE},
                           parameters=[TENANT_REQUIRED], body=_json_body(_ref("NewFaultRule"))),
        "delete": _operation("delete_faults: remove every fault rule of the tenant",
                             "admin token or the tenant's token",
                             {"200": _ok("how many", _ref("Removed")), "404": _error("no such tenant"), **WRITE},
                             parameters=[TENANT_REQUIRED])},
    "/api/faults/{rule_id}": {"delete": _operation(
        "delete_fault: remove one fault rule", "admin token or the tenant's token",
        {"200": _ok("removed", _ref("Removed")), "404": _error("no such tenant or rule"), **WRITE},
        parameters=[_param("rule_id", "path", "the id of GET /api/faults", {"type": "integer"}, True),
                    TENANT_REQUIRED])},
    "/api/answer-style": {
        "get": _operation("answer_style: how the operator varies the tenant's answer files",
                          "admin token or the tenant's token",
                          {"200": _ok("the style", _ref("AnswerStyle")), "400": BAD,
                           "404": _error("no such tenant"), **COMMON}, parameters=[TENANT_REQUIRED]),
        "put": _operation("set_answer_style: vary the tenant's next answer files within the protocol (free-text "
                          "columns empty or at their maximum length, informational columns empty)",
                          "admin token or the tenant's token",
                          {"200": _ok("the style now", _ref("AnswerStyle")), "404": _error("no such tenant"),
                           **WRITE}, parameters=[TENANT_REQUIRED], body=_json_body(_ref("AnswerStyle")))},
    "/api/tenants": {
        "get": _operation("tenants: the OC accounts", "admin token",
                          {"200": _ok("the tenants", {"type": "array", "items": _ref("Tenant")}), **COMMON}),
        "post": _operation("add_tenant: a new OC account, its folders and its API token", "admin token",
                           {"201": _ok("the account; api_token is shown only here", _ref("CreatedTenant")),
                            **WRITE}, body=_json_body(_ref("NewTenant")))},
}


def document(version: str, declared: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document; `declared`: the operations of the capabilities' own routes (web/routes.py)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "opsim admin API", "version": version,
                 "description": "Clock, reference data, orders, journal and tenants of the opsim sandbox. With an "
                              "admin token configured, send `Authorization: Bearer <token>`: the admin token for "
                              "every call, a tenant's token for its own orders, journal and files, and any token "
                              "for addresses and the clock. Mutating calls take `Content-Type: application/json` "
                              "and refuse another site's Origin. Errors are `{\"error\", \"detail\"}`."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {}],  # {}: no token needed when none is configured (loopback only)
        "paths": {**PATHS, **(declared or {})},
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "the admin token, or a tenant's token"}}},
    }
