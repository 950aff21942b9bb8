"""retention and erasure

Revision ID: 0007
Revises: 0006

``erasure_certificates`` keeps one deletion certificate per erasure request: counts and hashes of what
was removed, the reason, the requester and the audit entry, with the patient named by keyed hashes only.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_certificates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("subject_alias", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("removed_total", sa.Integer(), nullable=False),
        sa.Column("audit_event_id", sa.Integer(), nullable=True),
        sa.Column("certificate", sa.JSON(), nullable=False),
        sa.Column("certificate_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasure_certificates_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_erasure_certificates_subject_alias"), ["subject_alias"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_certificates_subject_alias"))
        batch_op.drop_index(batch_op.f("ix_erasure_certificates_subject"))
    op.drop_table("erasure_certificates")
