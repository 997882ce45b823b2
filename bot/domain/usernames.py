"""The username an entry the bot did not write gives one person, or why the bot cannot know it."""

from __future__ import annotations

from bot.domain.errors import PermanentError
from bot.domain.principals import Identity, UnrenderableUsername


def username_for(identity: Identity, template: str, *, where: str) -> str:
    """`template` rendered for `identity`, as the authenticator will render it at sign-in.

    Refused (PermanentError) when it needs what only the sign-in knows, and when a shared
    role's entry gives every session the same username: RBAC bound to it would reach everyone
    who holds the role, not the one person who asked.
    """
    try:
        rendered = identity.render(template)
    except UnrenderableUsername as e:
        raise PermanentError(
            f"{identity.describe()} is mapped by {where} to the username {template!r}, which "
            f"needs {e.missing}. The bot cannot know that before the person signs in, so it "
            "cannot bind RBAC to it"
            + (
                "; add `session:` to this person's identity in the policy."
                if e.missing == "the session name"
                else "."
            )
        ) from e
    if identity.shared and "{{SessionName" not in template:
        raise PermanentError(
            f"{identity.describe()} is mapped by {where} to {rendered!r} for every session of "
            "the role, so a grant bound to it would reach everyone who holds the role. Map the "
            "role with a username ending in {{SessionName}} to grant one person."
        )
    return rendered
