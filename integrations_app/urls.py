from __future__ import annotations

from django.urls import path

from integrations_app.views import health, overview

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("healthz", health.healthz, name="healthz"),
]

# Detail pages arrive with the web UI; until then they share a plain placeholder.
urlpatterns += [
    path("sites/<int:pk>/", overview.placeholder, name="site-detail"),
    path("keys/<int:pk>/", overview.placeholder, name="key-detail"),
    path("organisations/<int:pk>/", overview.placeholder, name="organisation-detail"),
    path("integrations/<int:pk>/", overview.placeholder, name="integration-detail"),
]
