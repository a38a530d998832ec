"""The Care Exchange reference server: publish once, read under scopes and agreements."""
