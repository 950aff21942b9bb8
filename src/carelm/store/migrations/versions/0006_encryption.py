"""encryption key versions and rotation

Revision ID: 0006
Revises: 0005

Every ciphertext already names its key version in its header (``carelm.store.crypto``), so rows
need no new column.  ``key_material`` keeps the secrets that must survive key rotation (lookup-hash
key, surrogate seeds) and the database's random id, each encrypted under the current key; the store
fills it when it is first opened with a key (a migration never sees the key).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_material",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("key_material")
