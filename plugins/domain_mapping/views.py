"""The plugin's admin page (blueprint ``plugin_domain_mapping``), made fresh for each app."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.core.extensions import db
from app.core.forms import IdField

from .services import MappingError, map_domain, recent_mappings, remove_mapping


class MapDomainForm(FlaskForm):
    """Which site, which domain."""
    site = IdField("Site number", validators=[DataRequired()])
    domain = StringField("Domain", validators=[DataRequired(), Length(max=253)])


def make_blueprint(host) -> Blueprint:
    """The blueprint of this plugin for ``host``'s app (a Blueprint cannot be set up twice)."""
    bp = Blueprint("plugin_domain_mapping", __name__)

    @bp.route("/", methods=["GET", "POST"])
    def index():
        """List mappings and map a new domain (fires the domain_mapping_created event)."""
        form = MapDomainForm()
        if form.validate_on_submit():
            try:
                mapping = map_domain(host, form.site.data, form.domain.data)
                db.session.commit()
                shown = mapping.domain if mapping.unicode_domain == mapping.domain else \
                    f"{mapping.unicode_domain} ({mapping.domain})"
                flash(f"{shown} now points to {mapping.site.title}.", "success")
                return redirect(url_for(".index"))
            except MappingError as error:
                db.session.rollback()
                getattr(form, error.field).errors.append(str(error))
        status = 400 if form.errors else 200
        return render_template("plugin_domain_mapping/index.html", form=form, mappings=recent_mappings(),
                               cname_target=host.get_setting("cname_target")), status

    @bp.route("/<int:mapping_id>/delete", methods=["POST"])
    def delete(mapping_id):
        """Remove a mapping."""
        if FlaskForm().validate_on_submit():
            remove_mapping(mapping_id, host)
            db.session.commit()
            flash("The mapping was removed.", "success")
        return redirect(url_for(".index"))

    return bp
