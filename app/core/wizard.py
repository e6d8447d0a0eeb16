"""A small reusable wizard: ordered steps, each a form with its template, the draft saved at every step.

Every step is a GET page of a draft that lives in the database, and every POST saves then
redirects (post/redirect/get), so reload, the back button and a second tab never lose work or
submit twice. Errors are found on the server and shown next to their fields. A step's form is
checked in two layers: what can be saved (always) and what is required to go on (only for
"Next"), so "Back" and "Save draft" keep unfinished work.
"""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for

from .extensions import db
from .submissions import AlreadySubmitted, once


class StepInvalid(Exception):
    """Errors found while saving or completing a step: ``errors`` maps field names to messages."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class WizardStep:
    """One step of a wizard; subclasses set the class attributes and override the methods."""

    name = ""
    title = ""
    form_class = None
    template = ""

    def load(self, draft) -> dict:
        """The form's initial data read from the draft."""
        return {}

    def make_form(self, draft, formdata=None):
        """The step's form, filled from the request (``formdata``) or from the draft."""
        return self.form_class(formdata=formdata, data=self.load(draft))

    def save(self, draft, form, action: str):
        """Store the valid form in the draft (raise StepInvalid); may return a URL to go to."""

    def missing(self, draft, form) -> dict:
        """Errors that only block going on to the next step ({field: message})."""
        return {}

    def context(self, draft, form) -> dict:
        """Extra template variables."""
        return {}

    def json_state(self, draft) -> dict:
        """What an auto-save request (fetch) gets back besides ``saved``."""
        return {}


class Wizard:
    """Ordered steps with the routing logic.

    ``endpoint`` takes the draft's id (as ``id_arg``) and ``step``; ``done_endpoint`` (the id only)
    is where a finished or locked draft goes; ``editable(draft)`` tells whether it may change;
    ``index_endpoint`` (no arguments) lists the drafts.
    """

    def __init__(self, endpoint: str, steps, done_endpoint: str, editable=lambda draft: True,
                 id_arg: str = "draft_id", index_endpoint: str | None = None):
        self.endpoint, self.done_endpoint, self.editable = endpoint, done_endpoint, editable
        self.id_arg, self.index_endpoint = id_arg, index_endpoint
        self.steps = list(steps)
        self._by_name = {step.name: step for step in self.steps}

    def get(self, name: str) -> WizardStep:
        """The step called ``name`` (404 when unknown)."""
        return self._by_name.get(name) or abort(404)

    def index(self, name: str) -> int:
        """The position of step ``name``."""
        return self.steps.index(self.get(name))

    def neighbour(self, name: str, offset: int):
        """The step ``offset`` places after ``name``, or None."""
        position = self.index(name) + offset
        return self.steps[position] if 0 <= position < len(self.steps) else None

    def reached(self, draft, name: str) -> bool:
        """True when the draft got as far as step ``name``."""
        furthest = draft.wizard_step if draft.wizard_step in self._by_name else self.steps[0].name
        return self.index(name) <= self.index(furthest)

    def url(self, draft, name: str, **args) -> str:
        """The address of step ``name`` of ``draft``."""
        return url_for(self.endpoint, step=name, **{self.id_arg: draft.id}, **args)

    def done_url(self, draft) -> str:
        """The page of a finished or locked draft."""
        return url_for(self.done_endpoint, **{self.id_arg: draft.id})

    def start(self, create_draft):
        """The first step before any draft exists; a valid POST creates it with ``create_draft(form)``,
        once per rendered form (``core.submissions``: a double click or a resent POST opens the
        draft the first one made instead of making another)."""
        step = self.steps[0]
        form = step.make_form(None, request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            try:
                with once(request.form) as submission:
                    draft = create_draft(form)
                    step.save(draft, form, "next")
                    response = self._advance(draft, step)  # commits
                    submission.result(response.location)
            except AlreadySubmitted as seen:
                flash("This form was already sent: the draft was created once.", "info")
                return redirect(seen.url or (url_for(self.index_endpoint) if self.index_endpoint else request.path))
            return response
        return self.render(None, step, form, 400 if request.method == "POST" else 200)

    def handle(self, draft, name: str):
        """Show (GET) or save (POST) step ``name`` of ``draft``."""
        step = self.get(name)
        if not self.editable(draft):
            flash("This is no longer a draft: nothing was changed or sent again." if request.method == "POST"
                  else "This is no longer a draft, so it cannot be edited.", "warning")
            return redirect(self.done_url(draft))
        if not self.reached(draft, name):
            return redirect(self.url(draft, draft.wizard_step))
        if request.method != "POST":
            return self.render(draft, step, step.make_form(draft))
        form = step.make_form(draft, request.form)
        action = request.form.get("nav") or "save"  # buttons without nav (Add, Grant) stay here
        try:
            if not form.validate():
                raise StepInvalid({})
            target = step.save(draft, form, action)
            db.session.commit()
            if action == "next":
                missing = step.missing(draft, form)
                if missing:
                    raise StepInvalid(missing)
        except StepInvalid as invalid:
            db.session.rollback()
            return self._invalid(draft, step, form, invalid.errors)
        if _wants_json():
            return jsonify(saved=True, revision=draft.revision, **step.json_state(draft))
        if action == "next":
            return self._advance(draft, step)
        if action == "back" and self.neighbour(name, -1) is not None:
            return redirect(self.url(draft, self.neighbour(name, -1).name))
        return redirect(target or self.url(draft, name))

    def _advance(self, draft, step):
        following = self.neighbour(step.name, 1)
        if following is None:
            return redirect(self.done_url(draft))
        if not self.reached(draft, following.name):
            draft.wizard_step = following.name
        db.session.commit()
        return redirect(self.url(draft, following.name))

    def _invalid(self, draft, step, form, errors):
        for field_name, message in errors.items():
            field = getattr(form, field_name, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, message]
            else:
                form.form_errors.append(message)
        if _wants_json():
            fields = {f.name: f.errors for f in form if f.errors}
            message = next((e[0] for e in fields.values()), None) or "Fix the errors."
            return jsonify(error=message, fields=fields), 400
        return self.render(draft, step, form, 400)

    def render(self, draft, step, form, status=200):
        """Render ``step`` with the stepper's state."""
        stepper = [(s, s is step, draft is not None and self.reached(draft, s.name)) for s in self.steps]
        back = self.neighbour(step.name, -1)
        return render_template(step.template, wizard=self, draft=draft, step=step, form=form,
                               steps_state=stepper, back_step=back,
                               is_last=self.neighbour(step.name, 1) is None,
                               **(step.context(draft, form) if draft is not None else {})), status


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"
