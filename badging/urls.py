app_name = "badging"
urlpatterns: list = []
