"""The Vercel AI SDK (`ai` and `@ai-sdk/openai` from npm, pinned), whose default `openai(model)` speaks Responses,
against the console script on the emulator: a whole answer, then a streamed tool loop run to its end by the SDK."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.agents.npm import packages
from tests.console import RunningProxy, clean_env

pytestmark = pytest.mark.agents
PACKAGES = ["ai@7.0.173", "@ai-sdk/openai@4.0.118", "zod@4.1.12"]
MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCRIPT = """\
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText, tool, stepCountIs } from "ai";
import { z } from "zod";

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: "sk-local" });
const model = openai(process.env.MODEL);  // the Responses API, the SDK's default
const whole = await generateText({ model, prompt: "Hello there" });
console.log(JSON.stringify({ text: whole.text, finish: whole.finishReason, usage: whole.usage.totalTokens }));
const weather = tool({
  description: "Current weather for a city",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => `Sunny in ${city}`,
});
const streamed = streamText({ model, prompt: "Weather?", tools: { get_weather: weather }, stopWhen: stepCountIs(3) });
let text = "";
for await (const part of streamed.textStream) text += part;
const steps = await streamed.steps;
console.log(JSON.stringify({
  text,
  finish: await streamed.finishReason,
  calls: steps.map((step) => step.toolCalls.map((call) => call.toolName)),
}));
"""


@pytest.fixture(scope="session")
def sdk() -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    return packages("vercel-ai", PACKAGES)


def test_the_vercel_ai_sdk_generates_and_runs_a_tool_loop(sdk: Path, tmp_path: Path) -> None:
    script = sdk / "run.mjs"  # beside node_modules, where Node resolves the packages from
    script.write_text(SCRIPT)
    with RunningProxy("--emulator", cwd=tmp_path, env=clean_env(PROXY_EMULATOR_TOKEN_DELAY_MS="0")) as proxy:
        done = subprocess.run(
            ["node", str(script)],
            env={**clean_env(), "BASE_URL": proxy.url + "/v1", "MODEL": MODEL},
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = proxy.output()
    assert done.returncode == 0, done.stderr
    whole, looped = (json.loads(line) for line in done.stdout.splitlines())
    assert whole["text"].startswith(f"Emulated reply from {MODEL} to: Hello there") and whole["finish"] == "stop"
    assert whole["usage"] > 0
    assert looped["calls"] == [["get_weather"], []] and looped["finish"] == "stop"
    assert looped["text"].startswith(f"Emulated reply from {MODEL} to: the tool result Sunny in example")
    assert [line for line in output.splitlines() if " responses " in line], output
