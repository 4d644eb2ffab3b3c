"""Edge adapters onto the chat pipeline: another protocol's request in as a Chat Completions request, the chat
answer out in that protocol's shape. No upstream translation lives here (N protocols x M dialects stays N + M)."""
