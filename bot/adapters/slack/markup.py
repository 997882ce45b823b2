"""Slack's mrkdwn for the facts a sentence names: `code`, <@U…> mentions, <!subteam^S…>."""

from __future__ import annotations

from bot.domain.markup import is_group


class SlackMarkup:
    def code(self, text: str) -> str:
        return f"`{text}`"

    def person(self, user_id: str) -> str:
        return f"<@{user_id}>"

    def member(self, member: str) -> str:
        return f"<!subteam^{member}>" if is_group(member) else f"<@{member}>"


SLACK = SlackMarkup()
