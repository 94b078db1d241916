import datetime

import pytest
from django.utils import timezone

from lti.models import LaunchContext
from lti.tasks import launches_purge
from tests.factories import LaunchContextFactory

pytestmark = pytest.mark.django_db


def test_purge_task_deletes_only_expired_launches():
    expired = LaunchContextFactory(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    live = LaunchContextFactory(expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert launches_purge() == 1
    assert list(LaunchContext.objects.values_list("pk", flat=True)) == [live.pk]
    assert not LaunchContext.objects.filter(pk=expired.pk).exists()
