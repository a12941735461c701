"""The wire: MessagePack-RPC over TCP, typed schemas, handshakes and tickets for every port."""
