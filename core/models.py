"""Every model module, imported once so that the metadata is complete (migrations, create_all, tests)."""

from core.accounts import models as accounts  # noqa: F401
from core.applications import models as applications  # noqa: F401
from core.audit import models as audit  # noqa: F401
from core.authorizations import models as authorizations  # noqa: F401
from core.bulk import models as bulk  # noqa: F401
from core.casework import models as casework  # noqa: F401
from core.checks import models as checks  # noqa: F401
from core.exchange import catalogue as exchange_catalogue  # noqa: F401 - categories, schemas, loads
from core.exchange import models as exchange  # noqa: F401
from core.faces import models as faces  # noqa: F401
from core.households import models as households  # noqa: F401
from core.idempotency import models as idempotency  # noqa: F401
from core.identity import models as identity  # noqa: F401
from core.liveness import models as liveness  # noqa: F401
from core.monitoring import models as monitoring  # noqa: F401 - roster, rule sets, runs, dispositions
from core.notifications import models as notifications  # noqa: F401
from core.regions import models as regions  # noqa: F401
from core.registry import models as registry  # noqa: F401
from core.reports import models as reports  # noqa: F401
from core.warnings import models as warnings  # noqa: F401
