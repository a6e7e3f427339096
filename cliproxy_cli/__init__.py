"""cliproxy: subscription CLI logins as standard OpenAI / Anthropic / Gemini APIs on localhost."""

__version__ = "0.1.0"
