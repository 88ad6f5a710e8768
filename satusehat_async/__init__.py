"""satusehat-async: an asyncio client for the SATUSEHAT API."""

__version__ = "0.1.0"
