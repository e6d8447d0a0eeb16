"""Migrations from empty match the models: autogenerate finds no difference."""
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.core.extensions import db


def _diff(engine):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes cannot be reflected on SQLite
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)


def test_migrated_test_database_matches_models(app):
    assert _diff(db.engine) == []


def test_flask_db_upgrade_from_empty_then_check(tmp_path, redis_database):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                        "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_database.url})
    runner = fresh.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        assert _diff(db.engine) == []
        tables = set(db.inspect(db.engine).get_table_names())
        assert {"users", "customers", "memberships", "alembic_version"} <= tables
        db.engine.dispose()
