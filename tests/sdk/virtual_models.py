"""The seed guides' own code against infermux's virtual models, with the official OpenAI SDK.

Usage: python virtual_models.py BASE_URL
Runs the Select guide's get_optimized_response and the TokenHub guide's `auto` + cost strategy
and `economy` calls as the guides write them (with infermux's header name), then prints one
JSON line per call: the case, the model that answered (the body's `model`) and the
X-Infermux-* headers that explain the pick.
"""

import json
import os
import sys

from openai import OpenAI

base_url = sys.argv[1]
os.environ.setdefault("API_KEY", "sk-client-key-never-forwarded")


def report(case, raw):
    response = raw.parse()
    print(json.dumps({
        "case": case,
        "model": response.model,
        "content": response.choices[0].message.content,
        "virtual_model": raw.headers.get("x-infermux-virtual-model"),
        "tier": raw.headers.get("x-infermux-tier"),
        "reason": raw.headers.get("x-infermux-route-reason"),
        "served_model": raw.headers.get("x-infermux-model"),
    }), flush=True)


# --- The Select guide, verbatim but for base_url -----------------------------------------
client = OpenAI(
    base_url=base_url,
    api_key=os.environ.get("API_KEY")
)

def get_optimized_response(prompt, task_type):
    # Routing logic: use smart-select to automatically pick the cost-effective model
    model_name = "smart-select" if task_type == "light" else "claude-3-sonnet"

    response = client.chat.completions.create(
        model=model_name,
        messages=[{"role": "user", "content": prompt}]
    )
    return response.choices[0].message.content

# Example usage
result = get_optimized_response("Classify this sentiment.", "light")
print(json.dumps({"case": "select_guide", "content": result}), flush=True)

# The guide asks users to check the response metadata: the same call, with its headers.
report("select_guide_metadata", client.chat.completions.with_raw_response.create(
    model="smart-select",
    messages=[{"role": "user", "content": "Classify this sentiment."}],
))

# --- The TokenHub guide, with infermux's header name -------------------------------------
client = OpenAI(
    api_key="th-your-api-key",
    base_url=base_url,
)

response = client.chat.completions.create(
    model="auto",
    messages=[
        {"role": "user", "content": "Classify the following email as spam or not spam: ..."},
    ],
    extra_headers={
        "X-Infermux-Strategy": "cost",
    },
)
print(json.dumps({"case": "tokenhub_auto_cost", "model": response.model}), flush=True)

response = client.chat.completions.create(
    model="economy",
    messages=[{"role": "user", "content": "Is this review positive or negative?"}],
)
print(json.dumps({"case": "tokenhub_economy", "model": response.model}), flush=True)

report("tokenhub_auto_cost_metadata", client.chat.completions.with_raw_response.create(
    model="auto",
    messages=[{"role": "user", "content": "Extract all dates from this text: ..."}],
    extra_headers={"X-Infermux-Strategy": "cost"},
))
report("tokenhub_economy_metadata", client.chat.completions.with_raw_response.create(
    model="economy",
    messages=[{"role": "user", "content": "Extract all dates from this text: ..."}],
))

# --- A complex request to the same virtual model goes to the strong tier ------------------
report("complex", client.chat.completions.with_raw_response.create(
    model="smart-select",
    messages=[{"role": "user", "content": (
        "Design a distributed rate limiter for a multi-region API gateway. Compare token "
        "bucket, sliding window and GCRA, explain the consistency trade-offs, and propose a "
        "data model with failure handling."
    )}],
))

# --- GET /v1/models lists the virtual models ----------------------------------------------
ids = [m.id for m in client.models.list()]
print(json.dumps({"case": "models", "ids": ids}), flush=True)
