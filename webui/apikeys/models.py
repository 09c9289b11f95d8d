"""ApiKey: an identity that submits jobs. The secret is never stored: only a slow hash (for
HTTP Basic auth) and the Ed25519 public key derived from it (to verify signed jobs)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    key = models.CharField("API key", max_length=64, unique=True)
    secret_hash = models.CharField(max_length=255, editable=False)
    public_key = models.CharField(max_length=64, editable=False, help_text="Ed25519, hex")
    active = models.BooleanField(default=True, db_index=True)
    description = models.CharField(max_length=255, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.key
