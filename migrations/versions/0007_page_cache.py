"""page cache: a version token per data scope (icbt.pagecache)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 15:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cache_versions',
    sa.Column('scope', sa.String(length=48), nullable=False),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_cache_versions'))
    )


def downgrade() -> None:
    op.drop_table('cache_versions')
