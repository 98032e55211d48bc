"""Drives a running infermux with the official OpenAI Python SDK.

Usage: python openai_sdk_smoke.py BASE_URL CHAT_MODELS EMBEDDING_MODELS
  e.g. python openai_sdk_smoke.py http://127.0.0.1:8080/v1 gpt-4o-mini,claude-haiku-4-5 text-embedding-3-small
Every chat model is asked a plain and a streamed question; every embedding model embeds two texts.
Prints one line per check and "N passed, M failed" at the end; exits non-zero on a failure.
"""

import sys

from openai import OpenAI

base_url = sys.argv[1]
chat_models = [m for m in sys.argv[2].split(",") if m]
embedding_models = [m for m in sys.argv[3].split(",") if m] if len(sys.argv) > 3 else []
client = OpenAI(base_url=base_url, api_key="sk-client-key-never-forwarded")
passed, failed = 0, 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        print(f"ok   {name}")
        passed += 1
    except Exception as error:  # noqa: BLE001 - report every failure, then go on
        print(f"FAIL {name}: {error!r}")
        failed += 1


def chat(model):
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    assert response.choices[0].message.content, response
    assert response.choices[0].finish_reason == "stop", response
    assert response.usage.prompt_tokens == 8, response.usage


def chat_with_headers(model):
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers.get("x-infermux-provider"), raw.headers
    assert raw.headers.get("x-infermux-request-id"), raw.headers


def streaming_chat(model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text, "no streamed text"
    assert usage is not None and usage.prompt_tokens == 8, usage


def embeddings(model):
    response = client.embeddings.create(model=model, input=["hello", "world"])
    assert len(response.data) == 2, response
    assert len(response.data[0].embedding) > 0, response


def models():
    ids = [model.id for model in client.models.list()]
    for model in chat_models + embedding_models:
        assert model in ids, (model, ids)


def unknown_model():
    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    except Exception as error:  # the SDK raises NotFoundError
        assert getattr(error, "status_code", None) == 404, error
        return
    raise AssertionError("expected a 404")


for model in chat_models:
    check(f"chat {model}", lambda: chat(model))
    check(f"chat response headers {model}", lambda: chat_with_headers(model))
    check(f"streaming chat {model}", lambda: streaming_chat(model))
for model in embedding_models:
    check(f"embeddings {model}", lambda: embeddings(model))
check("models", models)
check("unknown model is a 404", unknown_model)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
