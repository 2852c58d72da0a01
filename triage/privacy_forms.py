"""The privacy page's form: one requester's address and what to do with it."""

from __future__ import annotations

from django import forms


class RequesterForm(forms.Form):
    """`action` is the button pressed (preview, export or erase); an erasure needs `confirm`."""

    ACTIONS = ("preview", "export", "erase")

    email = forms.EmailField(label="Requester's email address", max_length=254)
    confirm = forms.BooleanField(
        required=False, label="I understand: this cannot be undone (the audit record keeps only a hash)."
    )

    def __init__(self, *args: object, action: str = "preview", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.action = action

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.action not in self.ACTIONS:
            raise forms.ValidationError("Choose preview, export or erase.")
        if self.action == "erase" and not data.get("confirm"):
            self.add_error("confirm", "Tick the box to confirm the erasure.")
        return data
