"""Anthropic Messages <-> Chat Completions: `request` translates what comes in, `reply` and `app.frames.anthropic`
what goes out, `errors` gives failures Anthropic's shape."""
