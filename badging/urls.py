"""Each area of the product keeps its own URL list; this file only joins them."""

from django.urls import include, path

from badging.views import backpack, events, instructor, learner, public, wallet

app_name = "badging"
urlpatterns = [
    path("", include(learner.urlpatterns)),
    path("", include(instructor.urlpatterns)),
    path("", include(public.urlpatterns)),
    path("", include(events.urlpatterns)),
    path("", include(wallet.urlpatterns)),
    path("", include(backpack.urlpatterns)),
]
