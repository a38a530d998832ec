"""The Care Exchange conformance suite: checks an implementation of the API over HTTP.

It knows the API only through the standard's OpenAPI document and schemas
(`care_exchange_standard`), never through the reference server's code.
"""

# The suite's `care-exchange` subcommand (the `care_exchange.commands` entry point), declared here
# so that listing it imports nothing of the suite.
COMMANDS = (
    (
        "conformance",
        "care_exchange_conformance.command:app",
        "Check an implementation of the Care Exchange API against the standard.",
    ),
)
