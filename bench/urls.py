"""The product's URLs plus two floor views that only the bench serves."""

from __future__ import annotations

from django.urls import path

from bench import views
from dashboard.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    path("_bench/floor/", views.floor, name="bench-floor"),
    path("_bench/floor-layout/", views.floor_layout, name="bench-floor-layout"),
    *product_urlpatterns,
]
