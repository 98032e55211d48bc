"""Drives a running infermux with the official Anthropic Python SDK.

Usage: python anthropic_sdk_smoke.py BASE_URL MODELS
  e.g. python anthropic_sdk_smoke.py http://127.0.0.1:8080 claude-opus-5-5,gpt-4o-mini,llama3.2
The providers behind infermux answer an agent turn: a tool call first, then text once the
conversation holds the tool's result. Every model runs that turn with messages.create and
with messages.stream, and counts tokens. Prints one line per check and "N passed, M failed" at
the end; exits non-zero on a failure.
"""

import sys

import anthropic

base_url = sys.argv[1]
models = [m for m in sys.argv[2].split(",") if m]
client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-client-key-never-forwarded")
passed, failed = 0, 0

TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


def check(name, fn):
    global passed, failed
    try:
        fn()
        print(f"ok   {name}")
        passed += 1
    except Exception as error:  # noqa: BLE001 - report every failure, then go on
        print(f"FAIL {name}: {error!r}")
        failed += 1


def follow_up(message):
    """The conversation after the assistant's tool call, with the tool's result."""
    calls = [b for b in message.content if b.type == "tool_use"]
    assert message.stop_reason == "tool_use", message
    assert len(calls) == 1 and calls[0].name == "get_weather", message
    assert calls[0].input == {"city": "Paris"}, calls[0].input
    return QUESTION + [
        {"role": "assistant", "content": [c.model_dump() for c in message.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": calls[0].id, "content": "sunny, 21 C"}
            ],
        },
    ]


def create(model):
    first = client.messages.create(model=model, max_tokens=1024, tools=TOOLS, messages=QUESTION)
    assert first.type == "message" and first.usage.input_tokens > 0, first
    second = client.messages.create(
        model=model, max_tokens=1024, tools=TOOLS, messages=follow_up(first)
    )
    text = "".join(b.text for b in second.content if b.type == "text")
    assert text == "It is sunny in Paris.", second
    assert second.stop_reason == "end_turn", second
    assert second.usage.output_tokens > 0, second.usage


def stream(model):
    with client.messages.stream(
        model=model, max_tokens=1024, tools=TOOLS, messages=QUESTION
    ) as events:
        first = events.get_final_message()
    with client.messages.stream(
        model=model, max_tokens=1024, tools=TOOLS, messages=follow_up(first)
    ) as events:
        text = "".join(events.text_stream)
        second = events.get_final_message()
    assert text == "It is sunny in Paris.", text
    assert second.stop_reason == "end_turn", second
    assert second.usage.output_tokens > 0, second.usage


def count_tokens(model):
    counted = client.messages.count_tokens(model=model, tools=TOOLS, messages=QUESTION)
    assert counted.input_tokens > 0, counted


def headers(model):
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=64, tools=TOOLS, messages=QUESTION
    )
    assert raw.headers.get("x-infermux-provider"), raw.headers
    assert raw.headers.get("x-infermux-request-id"), raw.headers


def not_found():
    try:
        client.messages.create(model="no-such-model", max_tokens=8, messages=QUESTION)
    except anthropic.NotFoundError as error:
        assert error.body["error"]["type"] == "not_found_error", error.body
        return
    raise AssertionError("no error for an unknown model")


for model in models:
    check(f"messages.create with a tool turn ({model})", lambda: create(model))
    check(f"messages.stream with a tool turn ({model})", lambda: stream(model))
    check(f"messages.count_tokens ({model})", lambda: count_tokens(model))
    check(f"infermux headers ({model})", lambda: headers(model))
check("unknown model is a NotFoundError", not_found)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
