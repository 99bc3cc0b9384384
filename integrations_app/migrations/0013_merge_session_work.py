"""Joins the migrations of work built side by side (channels, links, discovery, folding, silences):
each only adds its own tables and columns, so their order does not matter."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("integrations_app", "0012_channels"),
        ("integrations_app", "0012_client_links"),
        ("integrations_app", "0012_discovery"),
        ("integrations_app", "0012_folding"),
        ("integrations_app", "0012_silences"),
    ]

    operations = []
