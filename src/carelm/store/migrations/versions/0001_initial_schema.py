"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('purpose', sa.String(length=300), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )
    op.create_table('patients',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_key', sa.String(length=64), nullable=False),
    sa.Column('identity_enc', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_key')
    )
    op.create_table('processing_runs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('pipeline', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes_total', sa.Integer(), nullable=False),
    sa.Column('notes_done', sa.Integer(), nullable=False),
    sa.Column('notes_failed', sa.Integer(), nullable=False),
    sa.Column('failures', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('records',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('external_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_key')
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_patient_id'), ['patient_id'], unique=False)

    op.create_table('notes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('external_key', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('authored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('raw_text_enc', sa.LargeBinary(), nullable=True),
    sa.Column('deid_text', sa.Text(), nullable=True),
    sa.Column('char_count', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['processing_runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('content_hash')
    )
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notes_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notes_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notes_status'), ['status'], unique=False)

    op.create_table('record_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('display', sa.String(length=500), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('system', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=64), nullable=True),
    sa.Column('value', sa.String(length=200), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('effective', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('record_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_items_record_id'), ['record_id'], unique=False)

    op.create_table('annotations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('note_id', sa.String(length=32), nullable=False),
    sa.Column('layer', sa.String(length=64), nullable=False),
    sa.Column('start_char', sa.Integer(), nullable=False),
    sa.Column('end_char', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=128), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('stage', sa.String(length=128), nullable=False),
    sa.Column('stage_version', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['note_id'], ['notes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['processing_runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.create_index('ix_annotations_note_layer', ['note_id', 'layer'], unique=False)

    op.create_table('codes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('note_id', sa.String(length=32), nullable=True),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('display', sa.String(length=500), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('annotation_id', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=128), nullable=False),
    sa.Column('stage_version', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['note_id'], ['notes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['processing_runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codes_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_codes_note_id'), ['note_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_codes_record_id'), ['record_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codes_record_id'))
        batch_op.drop_index(batch_op.f('ix_codes_note_id'))
        batch_op.drop_index(batch_op.f('ix_codes_code'))

    op.drop_table('codes')
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_index('ix_annotations_note_layer')

    op.drop_table('annotations')
    with op.batch_alter_table('record_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_items_record_id'))

    op.drop_table('record_items')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notes_status'))
        batch_op.drop_index(batch_op.f('ix_notes_record_id'))
        batch_op.drop_index(batch_op.f('ix_notes_patient_id'))

    op.drop_table('notes')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_patient_id'))

    op.drop_table('records')
    op.drop_table('processing_runs')
    op.drop_table('patients')
    op.drop_table('audit_events')
