"""Identity and access: actors, passwords, tokens and scope checks."""
