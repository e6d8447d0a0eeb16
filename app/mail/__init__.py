"""The mail layer: SMTP transport, MIME, the one message builder, placeholders, unsubscribe tokens and the suppression list."""
