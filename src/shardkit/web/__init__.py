"""The web process: static pages for browsers and the WebSocket bridge to the cluster's RPC."""
