from __future__ import annotations

from django.urls import path

from integrations_app.views import (
    acks,
    channels,
    config,
    credentials,
    health,
    history,
    links,
    manage,
    overview,
    poll_now,
    projects,
    silences,
    sources,
    status_api,
)

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("healthz", health.healthz, name="healthz"),
    path("api/status.json", status_api.status_json, name="status-json"),
    # Reading
    path("sites/<int:pk>/", sources.site_detail, name="site-detail"),
    path("keys/<int:pk>/", sources.key_detail, name="key-detail"),
    path("organisations/<int:pk>/", sources.organisation_detail, name="organisation-detail"),
    path("integrations/<int:pk>/", sources.integration_detail, name="integration-detail"),
    path("alerts/", history.alerts, name="alerts"),
    path("audit/", history.audit, name="audit"),
    # Managing CUSTOM_ORDERS integrations (staff)
    path("integrations/new/", manage.create_integration, name="integration-create"),
    path("integrations/<int:pk>/rename/", manage.rename_integration, name="integration-rename"),
    path("integrations/<int:pk>/disable/", manage.disable_integration, name="integration-disable"),
    # Credentials and polling (staff)
    path("sites/<int:pk>/poll/", poll_now.poll_site_now, name="site-poll"),
    path("keys/<int:pk>/poll/", poll_now.poll_key_now, name="key-poll"),
    path("credentials/", credentials.index, name="credentials"),
    path("credentials/datafast/new/", credentials.account_create, name="account-create"),
    path("credentials/datafast/<int:pk>/", credentials.account_edit, name="account-edit"),
    path("credentials/datafast/<int:pk>/delete/", credentials.account_delete, name="account-delete"),
    path("credentials/sites/new/", credentials.site_create, name="site-create"),
    path("credentials/sites/<int:pk>/", credentials.site_edit, name="site-edit"),
    path("credentials/sites/<int:pk>/delete/", credentials.site_delete, name="site-delete"),
    path("credentials/accounts/<int:pk>/test/", credentials.account_test, name="account-test"),
    path("credentials/accounts/<int:pk>/discover/", credentials.account_discover, name="account-discover"),
    path("credentials/accounts/<int:pk>/notice/", credentials.account_notice, name="account-notice"),
    path("credentials/sites/<int:pk>/test/", credentials.site_test, name="site-test"),
    path("credentials/keys/new/", credentials.key_create, name="key-create"),
    path("credentials/keys/<int:pk>/", credentials.key_edit, name="key-edit"),
    path("credentials/keys/<int:pk>/delete/", credentials.key_delete, name="key-delete"),
    path("credentials/keys/<int:pk>/test/", credentials.key_test, name="key-test"),
    path("credentials/keys/<int:pk>/discover/", credentials.key_discover, name="key-discover"),
    # Projects and members (staff); the project of a source, one or many at a time (staff)
    path("projects/", projects.project_list, name="project-list"),
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<int:pk>/", projects.project_detail, name="project-detail"),
    path("projects/<int:pk>/edit/", projects.project_edit, name="project-edit"),
    path("projects/<int:pk>/delete/", projects.project_delete, name="project-delete"),
    path("projects/<int:pk>/members/", projects.member_add, name="member-add"),
    path("projects/<int:pk>/members/<int:member>/remove/", projects.member_remove, name="member-remove"),
    path("sites/<int:pk>/project/", projects.site_project, name="site-project"),
    path("organisations/<int:pk>/project/", projects.organisation_project, name="organisation-project"),
    path("sources/move/", projects.sources_move, name="sources-move"),
    # Channels: where alerts go (staff: global and every project's; managers: their projects')
    path("channels/", channels.channel_list, name="channel-list"),
    path("channels/new/", channels.channel_create, name="channel-create"),
    path("channels/<int:pk>/", channels.channel_detail, name="channel-detail"),
    path("channels/<int:pk>/edit/", channels.channel_edit, name="channel-edit"),
    path("channels/<int:pk>/delete/", channels.channel_delete, name="channel-delete"),
    path("channels/<int:pk>/test/", channels.channel_test, name="channel-test"),
    # Silences and maintenance windows (staff and the project's managers change them)
    path("silences/", silences.silence_list, name="silences"),
    path("silences/new/", silences.silence_create, name="silence-create"),
    path("silences/<int:pk>/end/", silences.silence_end, name="silence-end"),
    path("maintenance/new/", silences.window_create, name="window-create"),
    path("maintenance/<int:pk>/delete/", silences.window_delete, name="window-delete"),
    path("account/time-zone/", silences.time_zone, name="time-zone"),
    # Acknowledging an open problem, named by the change that opened it (staff and the project's managers)
    path("problems/<int:pk>/acknowledge/", acks.acknowledge, name="problem-ack"),
    path("problems/<int:pk>/unacknowledge/", acks.unacknowledge, name="problem-unack"),
    # One client, two vendors: websites linked to organisations (staff)
    path("links/", links.links_page, name="links"),
    path("links/confirm/", links.link_confirm, name="link-confirm"),
    path("links/dismiss/", links.link_dismiss, name="link-dismiss"),
    path("sites/<int:pk>/link/", links.site_link, name="site-link"),
    # Configuration as code: download, upload with a preview, apply (staff)
    path("config/", config.config_page, name="config"),
    path("config/download/", config.config_download, name="config-download"),
    path("config/preview/", config.config_preview, name="config-preview"),
    path("config/apply/", config.config_apply, name="config-apply"),
]
