"""What Django's error reports (the 500 email, the debug page) may show: nothing secret-like.

Django hides only the POST fields a view names with `sensitive_post_parameters` and the settings
whose names look secret. This filter also hides any POST field, frame variable or dictionary key
named like a credential (token, key, secret, password, API key, authorization), and the password
in a URL such as `redis://:password@host`, wherever the view forgot to say so.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

SECRET_LIKE = re.compile(r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|CREDENTIAL|BEARER|HTTP_COOKIE", re.IGNORECASE)
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+(?=@)", re.IGNORECASE)
# request.POST (a QueryDict) or a MultiValueDict made from it; the copy keeps its class.
Values = TypeVar("Values", bound="MultiValueDict[str, Any]")


class SecretReportFilter(SafeExceptionReporterFilter):
    hidden_settings = SECRET_LIKE

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if type(value) is str and not (isinstance(key, str) and SECRET_LIKE.search(key)):
            return URL_PASSWORD.sub(rf"\g<head>{self.cleansed_substitute}", value)
        return super().cleanse_setting(key, value)

    def _hide_secret_like(self, values: Values) -> Values:
        names = [name for name in values if isinstance(name, str) and SECRET_LIKE.search(name)]
        if not names:
            return values
        values = values.copy()  # request.POST is immutable, and must stay as the view saw it
        for name in names:
            values.setlist(name, [self.cleansed_substitute])
        return values

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        shown = super().get_post_parameters(request)
        if request is None or not self.is_active(request) or not isinstance(shown, MultiValueDict):
            return shown
        return self._hide_secret_like(shown)

    def get_cleansed_multivaluedict(self, request: HttpRequest, multivaluedict: QueryDict) -> QueryDict:
        cleansed = super().get_cleansed_multivaluedict(request, multivaluedict)
        return self._hide_secret_like(cleansed) if self.is_active(request) else cleansed

    def get_traceback_frame_variables(self, request: HttpRequest, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return [(name, self._cleanse_variable(name, value)) for name, value in variables]

    def _cleanse_variable(self, name: str, value: Any) -> Any:
        if SECRET_LIKE.search(name):
            return self.cleansed_substitute
        if isinstance(value, QueryDict):
            return value  # already cleansed as a MultiValueDict
        if isinstance(value, (dict, list, tuple, str)):
            try:  # dictionaries such as a form's cleaned_data: hide their secret-like keys
                return self.cleanse_setting("", value)
            except RecursionError:  # a structure that contains itself
                return self.cleansed_substitute
        return value
