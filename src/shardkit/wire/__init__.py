"""The wire: MessagePack-RPC over TCP, typed schemas, handshakes and tickets shared by every port."""
