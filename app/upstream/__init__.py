"""Transport only: where requests go, the one shared HTTP client, and the SSE byte decoder.

Knows nothing of the OpenAI protocol; it moves bytes and reports transport failures as ProxyErrors.
"""
