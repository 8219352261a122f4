"""URL patterns of the smartforms area, in the "records" namespace (included by records/urls.py)."""

urlpatterns: list = []
