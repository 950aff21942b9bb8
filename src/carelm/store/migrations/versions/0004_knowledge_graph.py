"""knowledge graph

Revision ID: 0004
Revises: 0003

``kg_edges.source_id``/``target_id`` are plain indexed ids, not foreign keys to ``kg_nodes``: knowledge
sources load independently and in any order.  ``note_id``/``record_id`` cascade from ``notes``/``records``
so that erasing a record removes the evidence drawn from it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kg_nodes",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("synonyms", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("licence", sa.String(length=100), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kg_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kg_nodes_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_kg_nodes_source"), ["source"], unique=False)

    op.create_table(
        "kg_edges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=300), nullable=False),
        sa.Column("target_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("licence", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("note_id", sa.String(length=32), nullable=True),
        sa.Column("record_id", sa.String(length=32), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["note_id"], ["notes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kg_edges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kg_edges_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kg_edges_target_id"), ["target_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kg_edges_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_kg_edges_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_kg_edges_note_id"), ["note_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kg_edges_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kg_edges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kg_edges_record_id"))
        batch_op.drop_index(batch_op.f("ix_kg_edges_note_id"))
        batch_op.drop_index(batch_op.f("ix_kg_edges_source"))
        batch_op.drop_index(batch_op.f("ix_kg_edges_kind"))
        batch_op.drop_index(batch_op.f("ix_kg_edges_target_id"))
        batch_op.drop_index(batch_op.f("ix_kg_edges_source_id"))

    op.drop_table("kg_edges")
    with op.batch_alter_table("kg_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kg_nodes_source"))
        batch_op.drop_index(batch_op.f("ix_kg_nodes_kind"))

    op.drop_table("kg_nodes")
