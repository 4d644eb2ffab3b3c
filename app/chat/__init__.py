"""OpenAI chat semantics shared by every upstream dialect.

Request side: checks made before any upstream call, and the output plan (`plan.py`, `request.py`,
`images.py`). Reply side: what models write turned into what OpenAI clients expect, for whole replies
(`answer.py`) and streams (`choice_stream.py`): <think> blocks, tool calls written as text, stop sequences,
tool-call ids and arguments.
"""
