"""Who may start a review by command: people with write access to the repository."""

from __future__ import annotations

from github.Repository import Repository

from bot.github.replies import WRITE_ASSOCIATIONS, WRITE_PERMISSIONS

__all__ = ["has_write_access"]


def has_write_access(repo: Repository, login: str | None, association: str | None) -> bool:
    """The comment's author association says so, and GitHub's permission endpoint
    confirms (an association alone can be stale: a member may have lost access)."""
    if association not in WRITE_ASSOCIATIONS or not login:
        return False
    return repo.get_collaborator_permission(login) in WRITE_PERMISSIONS
