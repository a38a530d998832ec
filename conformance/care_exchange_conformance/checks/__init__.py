"""The checks, one module per area; importing this package registers them all."""

from care_exchange_conformance.checks import auth, discovery

AREAS = (discovery, auth)
