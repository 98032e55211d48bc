"""Drives a running infermux's Responses API with the official OpenAI Python SDK.

Usage: python responses_sdk.py BASE_URL MODELS
  e.g. python responses_sdk.py http://127.0.0.1:8080/v1 gpt-4o-mini,claude-haiku-4-5,llama3.2
The providers behind infermux answer an agent turn: a `get_weather` call first, then the JSON
text '{"city": "Paris", "sky": "sunny"}' once the input holds the tool's output. Every model
runs that turn plain and streamed, a plain string input, and a json_schema output. Prints one
line per check and "N passed, M failed" at the end; exits non-zero on a failure.
"""

import json
import sys

from openai import OpenAI

base_url = sys.argv[1]
models = [m for m in sys.argv[2].split(",") if m]
client = OpenAI(base_url=base_url, api_key="sk-client-key-never-forwarded")
passed, failed = 0, 0

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "strict": False,
    }
]
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
SCHEMA = {
    "type": "json_schema",
    "name": "weather",
    "schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "sky": {"type": "string"}},
        "required": ["city", "sky"],
        "additionalProperties": False,
    },
    "strict": True,
}


def check(name, fn):
    global passed, failed
    try:
        fn()
        print(f"ok   {name}")
        passed += 1
    except Exception as error:  # noqa: BLE001 - report every failure, then go on
        print(f"FAIL {name}: {error!r}")
        failed += 1


def check_usage(response):
    usage = response.usage
    assert usage is not None, response
    assert usage.input_tokens > 0 and usage.output_tokens > 0, usage
    assert usage.input_tokens_details.cached_tokens >= 0, usage
    assert usage.output_tokens_details.reasoning_tokens >= 0, usage


def follow_up(response):
    """The input after the assistant's tool call, with the tool's output."""
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather", response.output
    assert json.loads(calls[0].arguments) == {"city": "Paris"}, calls[0].arguments
    return QUESTION + [
        {
            "type": "function_call",
            "call_id": calls[0].call_id,
            "name": calls[0].name,
            "arguments": calls[0].arguments,
        },
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"},
    ]


def tool_round_trip(model):
    first = client.responses.create(model=model, input=QUESTION, tools=TOOLS, tool_choice="auto")
    assert first.status == "completed", first
    check_usage(first)
    second = client.responses.create(
        model=model, input=follow_up(first), tools=TOOLS, instructions="Answer briefly."
    )
    assert json.loads(second.output_text) == {"city": "Paris", "sky": "sunny"}, second.output_text
    check_usage(second)


def streamed(model, input_items):
    kinds, text, final = [], "", None
    with client.responses.stream(model=model, input=input_items, tools=TOOLS) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = stream.get_final_response()
    assert kinds[0] == "response.created", kinds
    assert kinds[-1] == "response.completed", kinds
    assert "response.output_item.added" in kinds and "response.output_item.done" in kinds, kinds
    check_usage(final)
    return kinds, text, final


def streamed_round_trip(model):
    kinds, _, first = streamed(model, QUESTION)
    assert "response.function_call_arguments.delta" in kinds, kinds
    kinds, text, second = streamed(model, follow_up(first))
    assert "response.content_part.added" in kinds, kinds
    assert "response.output_text.delta" in kinds, kinds
    assert json.loads(text) == {"city": "Paris", "sky": "sunny"}, text
    assert second.output_text == text, (second.output_text, text)


def raw_stream(model):
    """`stream=True` on create: the events as they come, ending in response.completed."""
    events = list(client.responses.create(model=model, input=follow_up_input(), stream=True))
    assert events[0].type == "response.created", events[0]
    assert events[-1].type == "response.completed", events[-1]
    check_usage(events[-1].response)


def follow_up_input():
    return QUESTION + [
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": "{\"city\": \"Paris\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]


def string_input(model):
    raw = client.responses.with_raw_response.create(model=model, input="Say hello.", tools=TOOLS)
    assert raw.headers.get("x-infermux-provider"), raw.headers
    assert raw.headers.get("x-infermux-request-id"), raw.headers
    response = raw.parse()
    assert response.object == "response", response
    assert response.output, response


def json_schema(model):
    response = client.responses.create(
        model=model, input=follow_up_input(), tools=TOOLS, text={"format": SCHEMA}
    )
    assert json.loads(response.output_text) == {"city": "Paris", "sky": "sunny"}, response


for model in models:
    check(f"{model}: function tool round trip", lambda: tool_round_trip(model))
    check(f"{model}: streamed round trip", lambda: streamed_round_trip(model))
    check(f"{model}: stream=True", lambda: raw_stream(model))
    check(f"{model}: string input and headers", lambda: string_input(model))
    check(f"{model}: json_schema output", lambda: json_schema(model))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
