"""events pages."""

urlpatterns: list = []
