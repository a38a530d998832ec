"""The Care Exchange reference server: publish once, read under scopes and agreements."""

# The server's `care-exchange` subcommands (the `care_exchange.commands` entry point), declared
# here so that listing them imports nothing of the server.
COMMANDS = (
    ("serve", "care_exchange_server.cli:serve", "Serve the API."),
    ("run", "care_exchange_server.cli:run", "Try it: migrate, seed the demo, serve with webhooks."),
    ("worker", "care_exchange_server.cli:worker", "Deliver webhooks until stopped."),
    ("db", "care_exchange_server.cli:db_app", "The database."),
    ("admin", "care_exchange_server.cli:admin_app", "Organisations and OAuth clients."),
    ("keys", "care_exchange_server.cli:keys_app", "Token-signing keys."),
    ("demo", "care_exchange_server.cli:demo_app", "New credentials for the demo."),
)
