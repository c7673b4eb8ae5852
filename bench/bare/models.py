from django.db import models
from django.utils import timezone


class BareRow(models.Model):
    """The baseline's only table: an indexed FK-like integer, a few small columns."""

    owner_id = models.IntegerField()
    value = models.IntegerField(default=0)
    label = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner_id", "-id"], name="bare_row_owner_id_desc")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.pk}"
