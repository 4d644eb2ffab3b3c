"""workers-ai-proxy: an OpenAI-compatible server in front of Cloudflare Workers AI."""

__version__ = "0.1.0"
