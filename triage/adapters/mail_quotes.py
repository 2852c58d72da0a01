"""Where a mail's own text ends and quoted mail begins, as regular-expression sources shared by the
intake's reply split (email/parse.py `reply_split`) and the offline classifiers' body
(llm/normalize.py `classifier_body`), so both know the same clients.

Each matches one whole line (the caller anchors it and adds its flags, case-insensitive).
"""

from __future__ import annotations

# "On <date>, <name> wrote:" and its counterparts; German and Dutch clients name the sender after
# the verb ("Am Do., 3. Dez. 2026 um 10:14 Uhr schrieb Anna <a@b>:").
ATTRIBUTION = (
    r"(?:(?:on|le|el|il|em)\s.{4,200}\s(?:wrote|a écrit|escribió|ha scritto|escreveu)\s?:"
    r"|(?:am|op)\s.{4,200}\s(?:schrieb|schreef)(?:\s.{1,200})?:)"
)
# Outlook-style separators, below which the quoted mail is not marked line by line.
ORIGINAL_MESSAGE = (
    r"(?:-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|mensagem original)\s*-{2,}|_{20,})"
)
