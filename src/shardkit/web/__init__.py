"""The web process: static pages for browsers, and the WebSocket bridge to MessagePack-RPC ports."""
