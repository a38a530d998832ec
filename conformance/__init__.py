"""The conformance suite and the offline data validator: checking others' data and servers."""
