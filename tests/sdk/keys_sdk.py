"""Drives infermux's API keys with the official OpenAI Python SDK (api_key = the infermux key).

Usage: python keys_sdk.py BASE_URL GOOD_KEY CAPPED_KEY RPM_KEY REVOKED_KEY
  GOOD_KEY may use gpt-4o-mini only; CAPPED_KEY has a monthly cap of a few requests; RPM_KEY
  allows 2 requests per minute; REVOKED_KEY was revoked.
Prints one line per check and "N passed, M failed" at the end; exits non-zero on a failure.
"""

import sys

import openai
from openai import OpenAI

base_url, good, capped, rpm, revoked = sys.argv[1:6]
passed, failed = 0, 0


def client(key):
    # No retries: a 429 must reach the check, not be retried away.
    return OpenAI(base_url=base_url, api_key=key, max_retries=0)


def check(name, fn):
    global passed, failed
    try:
        fn()
        print(f"ok   {name}")
        passed += 1
    except Exception as error:  # noqa: BLE001 - report every failure, then go on
        print(f"FAIL {name}: {error!r}")
        failed += 1


def ask(key, model="gpt-4o-mini", **extra):
    return client(key).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=1, **extra
    )


def expect(error_type, status, code, fn):
    try:
        fn()
    except error_type as error:
        assert error.status_code == status, error.status_code
        assert error.code == code, (error.code, error.message)
        assert error.response.headers["x-infermux-error"] == code
        return error
    raise AssertionError(f"no {error_type.__name__}")


def served():
    response = ask(good)
    assert response.choices[0].message.content, response
    stream = ask(good, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text, "empty stream"


def not_allowed():
    expect(openai.PermissionDeniedError, 403, "model_not_allowed", lambda: ask(good, "gpt-4o"))


def revoked_key():
    expect(openai.AuthenticationError, 401, "invalid_api_key", lambda: ask(revoked))


def unknown_key():
    made_up = "imx_" + "Z" * 43
    expect(openai.AuthenticationError, 401, "invalid_api_key", lambda: ask(made_up))


def capped_key():
    for _ in range(20):
        try:
            ask(capped)
        except openai.RateLimitError as error:
            assert error.code == "key_budget_exceeded", error.code
            message = error.body["message"]
            assert message.startswith("monthly budget of $0.000005 for key capped exceeded; current spend: $"), message
            return
    raise AssertionError("the cap never refused")


def rate_limited():
    ask(rpm)
    ask(rpm)
    error = expect(openai.RateLimitError, 429, "rate_limited", lambda: ask(rpm))
    assert int(error.response.headers["retry-after"]) >= 1


check("a valid key is served, plain and streamed", served)
check("a model outside the key's list is 403 model_not_allowed", not_allowed)
check("a revoked key is 401 invalid_api_key", revoked_key)
check("an unknown key is 401 invalid_api_key", unknown_key)
check("a capped key is 429 key_budget_exceeded at its cap", capped_key)
check("a key over its rpm is 429 rate_limited with Retry-After", rate_limited)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
