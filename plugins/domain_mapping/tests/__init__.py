"""Tests of the Domain mapping plugin, on Herald's shipped fixtures (app.testing) only."""
