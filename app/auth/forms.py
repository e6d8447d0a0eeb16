"""Forms of the auth domain."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

MIN_PASSWORD_LENGTH = 8  # characters, for every password a person sets (web and CLI)


class LoginForm(FlaskForm):
    """E-mail and password."""
    # No format check: a login only has to match an account (and local domains must work).
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me logged in")
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    """The logged-in user's current password and the new one, twice."""
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField("New password", validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="The two new passwords differ.")])
