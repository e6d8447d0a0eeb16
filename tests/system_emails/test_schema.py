"""The migrations (0005_system_emails and the domain_mapping branch) match the models exactly."""
import warnings

from sqlalchemy import Column, Integer

from app.core.extensions import db


def test_flask_db_check_finds_no_difference(runner):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLite cannot reflect the core's expression indexes
        result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0 and result.exception is None, result.output  # diffs raise


def test_the_check_would_see_a_difference(runner):
    table = db.Table("system_emails_check_probe", db.metadata, Column("id", Integer, primary_key=True))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = runner.invoke(args=["db", "check"])
        assert result.exit_code != 0
    finally:
        db.metadata.remove(table)
