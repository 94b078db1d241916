"""instructor pages."""

urlpatterns: list = []
