"""Human handoff: agents, cases with their messages and history, audit trail, canned replies.

Written out by hand so that it never changes when the models do (see 0001).
At most one active (waiting or open) case per conversation and per customer:
partial unique indexes, which SQLite and PostgreSQL both support.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ACTIVE_CASE = "status IN ('waiting', 'open')"


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _enum_value() -> sa.String:
    return sa.String(length=32)


def _agent_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["agents.id"], name=op.f(f"fk_{table}_{column}_agents")
    )


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("role", _enum_value(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("username", name=op.f("uq_agents_username")),
    )

    op.create_table(
        "handoff_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=14), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reason", _enum_value(), nullable=False),
        sa.Column("priority", _enum_value(), nullable=False),
        sa.Column("status", _enum_value(), nullable=False),
        sa.Column("stage", _enum_value(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("off_hours", sa.Boolean(), nullable=False),
        sa.Column("callback_phone", sa.String(length=11), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("claimed_at", _timestamp(), nullable=True),
        sa.Column("first_response_due", _timestamp(), nullable=False),
        sa.Column("first_responded_at", _timestamp(), nullable=True),
        sa.Column("warned_at", _timestamp(), nullable=True),
        sa.Column("escalated_at", _timestamp(), nullable=True),
        sa.Column("closed_at", _timestamp(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("satisfaction_score", sa.Integer(), nullable=True),
        sa.Column("satisfaction_comment", sa.Text(), nullable=True),
        sa.Column("satisfaction_at", _timestamp(), nullable=True),
        sa.CheckConstraint(
            "satisfaction_score IS NULL OR satisfaction_score BETWEEN 1 AND 5",
            name=op.f("ck_handoff_cases_satisfaction_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_handoff_cases_customer_id_customers")
        ),
        _agent_fk("handoff_cases", "owner_id"),
        _agent_fk("handoff_cases", "handler_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_handoff_cases_number")),
    )
    op.create_index(op.f("ix_handoff_cases_owner_id"), "handoff_cases", ["owner_id"])
    op.create_index(op.f("ix_handoff_cases_handler_id"), "handoff_cases", ["handler_id"])
    op.create_index(
        "ix_handoff_cases_status_created_at", "handoff_cases", ["status", "created_at"]
    )
    for name, column in (
        ("uq_handoff_cases_active_conversation", "conversation_id"),
        ("uq_handoff_cases_active_customer", "customer_id"),
    ):
        op.create_index(
            name,
            "handoff_cases",
            [column],
            unique=True,
            sqlite_where=sa.text(ACTIVE_CASE),
            postgresql_where=sa.text(ACTIVE_CASE),
        )

    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", _enum_value(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["handoff_cases.id"],
            name=op.f("fk_handoff_messages_case_id_handoff_cases"),
            ondelete="CASCADE",
        ),
        _agent_fk("handoff_messages", "agent_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_messages")),
    )
    op.create_index(op.f("ix_handoff_messages_case_id"), "handoff_messages", ["case_id"])

    op.create_table(
        "handoff_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum_value(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_agent_id", sa.Integer(), nullable=True),
        sa.Column("to_agent_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["handoff_cases.id"],
            name=op.f("fk_handoff_events_case_id_handoff_cases"),
            ondelete="CASCADE",
        ),
        _agent_fk("handoff_events", "actor_id"),
        _agent_fk("handoff_events", "from_agent_id"),
        _agent_fk("handoff_events", "to_agent_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_events")),
    )
    op.create_index(op.f("ix_handoff_events_case_id"), "handoff_events", ["case_id"])

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("action", _enum_value(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        _agent_fk("audit_entries", "agent_id"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["handoff_cases.id"],
            name=op.f("fk_audit_entries_case_id_handoff_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index(op.f("ix_audit_entries_case_id"), "audit_entries", ["case_id"])
    op.create_index("ix_audit_entries_agent_id_at", "audit_entries", ["agent_id", "at"])

    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=50), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )


def downgrade() -> None:
    for table in (
        "canned_replies",
        "audit_entries",
        "handoff_events",
        "handoff_messages",
        "handoff_cases",
        "agents",
    ):
        op.drop_table(table)
