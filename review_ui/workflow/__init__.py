"""The release workflow in plain Python, testable without Flask: organisations and
users, incidents and their fact sheets, releases with their versions, approvals and
comments, the hash-chained audit log and the publishing outbox. The Flask blueprints
only call into it."""
