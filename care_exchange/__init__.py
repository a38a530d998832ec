"""The `care-exchange` command, which gathers the subcommands of each part of the project."""
