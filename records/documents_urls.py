"""URL patterns of the documents area, in the "records" namespace (included by records/urls.py)."""

urlpatterns: list = []
