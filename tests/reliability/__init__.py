"""End-to-end reliability runs: fault injection and crash safety against a local server."""
