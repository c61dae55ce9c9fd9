"""A stub OpenAI-compatible server that answers every chat completion at once.

    python bench/stub_openai.py PORT

Used by bench/throughput.py, in its own process, so the client's event loop is measured alone.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BODY = {
    "id": "chatcmpl-stub",
    "object": "chat.completion",
    "created": 0,
    "model": "stub",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}
ENCODED = JSONResponse(BODY).body


async def chat(request: Request) -> Response:
    await request.body()
    return Response(ENCODED, media_type="application/json")


async def models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})


app = Starlette(
    routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
