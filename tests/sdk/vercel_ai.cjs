// Drives a running infermux with the Vercel AI SDK's default OpenAI provider, `openai(model)`,
// which speaks the Responses API.
//
// Usage: NODE_PATH=<dir with ai and @ai-sdk/openai>/node_modules node vercel_ai.cjs BASE_URL MODELS
// The providers behind infermux answer a `get_weather` call first, then text once the
// conversation holds the tool's result. Every model runs generateText and streamText through
// that tool turn. Prints one line per check and "N passed, M failed"; exits non-zero on a failure.

const { generateText, streamText, tool, stepCountIs, jsonSchema } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");

const [baseURL, modelList] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey: "sk-client-key-never-forwarded" });
const ANSWER = "It is sunny in Paris.";
const tools = {
  get_weather: tool({
    description: "The weather in a city.",
    inputSchema: jsonSchema({
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    }),
    execute: async ({ city }) => `sunny in ${city}`,
  }),
};
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
    passed += 1;
  } catch (error) {
    console.log(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
    failed += 1;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function generate(model) {
  const result = await generateText({
    model: openai(model),
    prompt: "What is the weather in Paris?",
    tools,
    stopWhen: stepCountIs(3),
  });
  assert(result.text === ANSWER, `text: ${JSON.stringify(result.text)}`);
  assert(result.steps.length === 2, `steps: ${result.steps.length}`);
  const calls = result.steps[0].toolCalls;
  assert(calls.length === 1 && calls[0].toolName === "get_weather", JSON.stringify(calls));
  assert(result.totalUsage.inputTokens > 0, JSON.stringify(result.totalUsage));
}

async function stream(model) {
  const result = streamText({
    model: openai(model),
    prompt: "What is the weather in Paris?",
    tools,
    stopWhen: stepCountIs(3),
  });
  let text = "";
  for await (const delta of result.textStream) text += delta;
  assert(text === ANSWER, `streamed text: ${JSON.stringify(text)}`);
  const usage = await result.totalUsage;
  assert(usage.outputTokens > 0, JSON.stringify(usage));
  const finish = await result.finishReason;
  assert(finish === "stop", `finish: ${finish}`);
}

(async () => {
  for (const model of modelList.split(",").filter(Boolean)) {
    await check(`${model}: generateText with a tool`, () => generate(model));
    await check(`${model}: streamText with a tool`, () => stream(model));
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
