"""Local HTTP servers answering in the providers' documented wire formats (JSON and SSE streams).

The hosted APIs cannot be reached from here; the real client libraries are pointed at these.
"""

from __future__ import annotations

import binascii
import inspect
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_MODEL = "gpt-4o-2024-08-06"
ANTHROPIC_MODEL = "claude-sonnet-4-20250514"
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
GEMINI_MODEL = "gemini-2.0-flash-001"


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = []
    for name, data in events:
        if name:
            out.append(f"event: {name}\n")
        out.append(f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n")
    return "".join(out).encode()


def openai_answer(body: dict) -> tuple[int, str, bytes]:
    if "input" in body and "messages" not in body:  # /v1/embeddings
        if body.get("model") == "fail":
            return 400, "application/json", json.dumps({"error": {"message": "bad model", "type": "invalid_request_error"}}).encode()
        return 200, "application/json", json.dumps({
            "object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }).encode()
    if body.get("tools") and not body.get("stream"):
        return 200, "application/json", json.dumps({
            "id": "chatcmpl-3", "object": "chat.completion", "created": 0, "model": OPENAI_MODEL, "service_tier": "default",
            "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39, "prompt_tokens_details": {"cached_tokens": 10}},
        }).encode()
    if body.get("model") == "fail":
        return 429, "application/json", json.dumps({"error": {"message": "rate limited", "type": "rate_limit_error", "code": "rate_limit"}}).encode()
    if not body.get("stream"):
        return 200, "application/json", json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": OPENAI_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }).encode()
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 0, "model": OPENAI_MODEL}
    events = [
        (None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}),
        (None, {**base, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]}),
        (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}),
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append((None, {**base, "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}}))
    events.append((None, "[DONE]"))
    return 200, "text/event-stream", _sse(events)


def anthropic_answer(body: dict) -> tuple[int, str, bytes]:
    if body.get("model") == "fail":
        return 529, "application/json", json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).encode()
    if not body.get("stream"):
        return 200, "application/json", json.dumps({
            "id": "msg_1", "type": "message", "role": "assistant", "model": ANTHROPIC_MODEL,
            "content": [{"type": "text", "text": "Hi there"}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 4},
        }).encode()
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_2", "type": "message", "role": "assistant", "model": ANTHROPIC_MODEL,
                                                                 "content": [], "stop_reason": None, "stop_sequence": None,
                                                                 "usage": {"input_tokens": 30, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return 200, "text/event-stream", _sse(events)


def _event(event_type: str, payload: dict) -> bytes:
    """One message of the AWS event stream encoding (Bedrock ConverseStream's wire format)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message))


def bedrock_answer(body: dict, path: str) -> tuple[int, str, bytes, dict]:
    """Bedrock Runtime Converse / ConverseStream: POST /model/{modelId}/converse[-stream]."""
    if "/model/fail/" in path:
        return 400, "application/json", json.dumps({"message": "The provided model identifier is invalid."}).encode(), {
            "x-amzn-ErrorType": "ValidationException"}
    usage = {"inputTokens": 11, "outputTokens": 5, "totalTokens": 16}
    if path.endswith("/converse"):
        return 200, "application/json", json.dumps({
            "output": {"message": {"role": "assistant", "content": [{"text": "Bonjour"}]}}, "stopReason": "end_turn",
            "usage": usage, "metrics": {"latencyMs": 12}}).encode(), {}
    events = [
        _event("messageStart", {"role": "assistant"}),
        _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Bon"}}),
        _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "jour"}}),
        _event("contentBlockStop", {"contentBlockIndex": 0}),
        _event("messageStop", {"stopReason": "max_tokens"}),
        _event("metadata", {"usage": {"inputTokens": 13, "outputTokens": 2, "totalTokens": 15}, "metrics": {"latencyMs": 20}}),
    ]
    return 200, "application/vnd.amazon.eventstream", b"".join(events), {}


def gemini_answer(body: dict, path: str) -> tuple[int, str, bytes]:
    """Gemini API generateContent / streamGenerateContent?alt=sse."""
    if "/models/fail:" in path:
        return 429, "application/json", json.dumps({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}).encode()
    if ":generateContent" in path:
        return 200, "application/json", json.dumps({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hallo"}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10},
            "modelVersion": GEMINI_MODEL, "responseId": "resp-1"}).encode()
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hal"}]}, "index": 0}], "modelVersion": GEMINI_MODEL,
         "responseId": "resp-2", "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "MAX_TOKENS", "index": 0}],
         "modelVersion": GEMINI_MODEL, "responseId": "resp-2",
         "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}},
    ]
    return 200, "text/event-stream", _sse([(None, c) for c in chunks])


class _Handler(BaseHTTPRequestHandler):
    answer: Any = None

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        answer = type(self).answer
        reply = answer(body, self.path) if len(inspect.signature(answer).parameters) == 2 else answer(body)
        status, ctype, payload = reply[:3]
        self.send_response(status)
        self.send_header("content-type", ctype)
        for key, value in (reply[3] if len(reply) > 3 else {}).items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


class FakeProvider:
    def __init__(self, answer: Any) -> None:
        handler = type("Handler", (_Handler,), {"answer": staticmethod(answer)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
