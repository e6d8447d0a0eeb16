"""The plugin's table: one row per domain mapped to a site (prefixed ``domain_mapping_``)."""
import idna

from app.core.extensions import db
from app.core.utils import utcnow


class DomainMapping(db.Model):
    """A domain (IDNA 2008 A-labels, lower-case, unique: ``app.core.hostnames.host_name``) that
    serves one site."""
    __tablename__ = "domain_mapping_mappings"

    id = db.Column(db.Integer, primary_key=True)
    site_id = db.Column(db.Integer, db.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    domain = db.Column(db.String(253), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    site = db.relationship("Site")

    @property
    def unicode_domain(self) -> str:
        """The domain as people read it (U-labels: ``xn--strae-oqa.de`` -> ``straße.de``)."""
        try:
            return idna.decode(self.domain)
        except (idna.IDNAError, UnicodeError):  # a row stored before domains were checked
            return self.domain
