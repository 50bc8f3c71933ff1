"""Local HTTP servers answering in the providers' documented wire formats (JSON and SSE streams).

The hosted APIs cannot be reached from here; the real client libraries are pointed at these.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_MODEL = "gpt-4o-2024-08-06"
ANTHROPIC_MODEL = "claude-sonnet-4-20250514"


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


class _Handler(BaseHTTPRequestHandler):
    answer: Any = None

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        status, ctype, payload = type(self).answer(body)
        self.send_response(status)
        self.send_header("content-type", ctype)
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
