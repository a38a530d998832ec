"""The conformance suite and the offline data validator: checking other people's data and servers."""
