"""Log in and out. Only clinic staff may log in here; patients use the app."""

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from clinic.models import Practitioner


class StaffAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "not_staff": "This login is for clinic staff. Patients use the Stride app.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not Practitioner.objects.filter(user=user).exists():
            raise ValidationError(self.error_messages["not_staff"], code="not_staff")


class StaffLoginView(auth_views.LoginView):
    form_class = StaffAuthenticationForm
    redirect_authenticated_user = True


logout_view = auth_views.LogoutView.as_view()
