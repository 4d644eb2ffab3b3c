"""OpenAI's Responses API onto chat: the request translated once, the answer as a `response` object or event stream."""
