"""The OpenAI Agents SDK with its default model class (Responses) through the real server: a tool-using agent run
to completion, streamed and not."""

from __future__ import annotations

import asyncio

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

from tests.fake_upstream import FakeUpstream
from tests.servers import ProxyServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
called: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    called.append(city)
    return f"Sunny in {city}"


def agent(client: openai.AsyncOpenAI) -> Agent:
    model = OpenAIResponsesModel(model=LLAMA, openai_client=client)
    return Agent(name="forecaster", instructions="Answer with the weather.", tools=[get_weather], model=model)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_tool_using_agent_runs_to_completion(proxy: ProxyServer, fake: FakeUpstream, streamed: bool) -> None:
    called.clear()
    config = RunConfig(tracing_disabled=True)

    async def run() -> str:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-local", max_retries=0) as client:
            if not streamed:
                return str((await Runner.run(agent(client), "Weather in Paris?", run_config=config)).final_output)
            result = Runner.run_streamed(agent(client), "Weather in Paris?", run_config=config)
            async for _ in result.stream_events():
                pass
            return str(result.final_output)

    final = asyncio.run(run())
    assert called == ["example"]  # the emulator calls the first offered tool with made-up arguments
    assert final.startswith(f"Emulated reply from {LLAMA} to: the tool result Sunny in example")
    sent = fake.last.body["messages"]
    assert sent[0] == {"role": "system", "content": "Answer with the weather."}
    assert sent[-1]["role"] == "tool" and sent[-1]["content"] == "Sunny in example"
