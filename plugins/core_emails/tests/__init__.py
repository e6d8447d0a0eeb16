"""Tests of the Core e-mails plugin, on Herald's shipped fixtures (app.testing) only."""
