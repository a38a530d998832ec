"""The Care Exchange conformance suite: checks an implementation of the API over HTTP.

It knows the API only through the standard's OpenAPI document and schemas
(`care_exchange_standard`), never through the reference server's code.
"""
