"""Flask extensions, created once here and initialised in create_app."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy


class Base(so.DeclarativeBase):
    # Named constraints so that Alembic migrations behave the same on SQLite and PostgreSQL.
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
