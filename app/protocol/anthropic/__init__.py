"""Anthropic's Messages API, as we serve it: request models only, no logic."""
