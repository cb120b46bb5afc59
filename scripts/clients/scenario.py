"""A short scenario through the client openapi-python-client generates from openapi/openapi.json
(scripts/clients/run): create, PATCH one field and see the others unchanged, DELETE with a stale
If-Match and get 412, import a CSV file (a dry run, then for real). Exits non-zero on any
surprise."""

import io
import sys

from ikz_api_client import AuthenticatedClient, Client
from ikz_api_client.types import File
from ikz_api_client.api.auth import create_token
from ikz_api_client.api.measures import create_measure, delete_measure, get_measure, update_measure
from ikz_api_client.api.cooperations import create_cooperation
from ikz_api_client.api.fields import list_fields
from ikz_api_client.api.import_ import import_records
from ikz_api_client.api.users import create_user, update_user
from ikz_api_client.models import (
    CreateCooperation,
    ImportRecordsResource,
    CreateMeasure,
    CreateUser,
    MeasurePatch,
    Role,
    TokenRequest,
    UserPatch,
)

base, password = sys.argv[1], sys.argv[2]


def check(condition, message):
    if not condition:
        print("FAILED:", message, file=sys.stderr)
        sys.exit(1)


login = create_token.sync_detailed(client=Client(base_url=base), body=TokenRequest(username="admin", password=password))
check(login.status_code == 200, f"login: {login.status_code} {login.content!r}")
admin = AuthenticatedClient(base_url=base, token=login.parsed.access_token)

cooperation = create_cooperation.sync(client=admin, body=CreateCooperation(name="IKZ Generated Client"))
field_id = list_fields.sync(client=admin).items[0].id
created = create_measure.sync_detailed(
    client=admin,
    body=CreateMeasure(cooperation_id=cooperation.id, field_id=field_id, title="Streusalz", progress=60, benefit=4),
)
check(created.status_code == 201, f"create: {created.status_code} {created.content!r}")
measure = created.parsed
stale_tag = created.headers["etag"]

changed = update_measure.sync_detailed(id=measure.id, client=admin, body=MeasurePatch(summary="Gemeinsam einkaufen"))
check(changed.status_code == 200, f"patch: {changed.status_code} {changed.content!r}")
after = get_measure.sync(id=measure.id, client=admin)
check(after.summary == "Gemeinsam einkaufen", "the patched field changed")
check((after.progress, after.benefit, after.title) == (60, 4, "Streusalz"), f"the other fields stayed: {after}")

refused = delete_measure.sync_detailed(id=measure.id, client=admin, if_match=stale_tag)
check(refused.status_code == 412, f"stale If-Match: {refused.status_code}")
check(get_measure.sync_detailed(id=measure.id, client=admin).status_code == 200, "still there after the 412")
current = get_measure.sync_detailed(id=measure.id, client=admin).headers["etag"]
check(delete_measure.sync_detailed(id=measure.id, client=admin, if_match=current).status_code == 204, "delete")

# Accounts: create with a password; a PATCH of the display name leaves the account active.
user = create_user.sync_detailed(
    client=admin, body=CreateUser(username="generated", password="a long enough password", role=Role.VIEWER, active=False)
)
check(user.status_code == 201, f"create user: {user.status_code} {user.content!r}")
renamed = update_user.sync(id=user.parsed.id, client=admin, body=UserPatch(display_name="Generated Client"))
check(renamed.active is False, "a PATCH of the name must not re-activate the account")
# Import: the layout the CSV export writes, as German Excel saves it (`;`, a BOM, a German date).
sheet = f"\ufefftitle;cooperation_id;field_id;planned_start\nWinterdienst;{cooperation.id};key:bauhof;01.03.2027\n"
upload = File(payload=io.BytesIO(sheet.encode("utf-8")), file_name="massnahmen.csv", mime_type="text/csv")
dry = import_records.sync(client=admin, body=upload, resource=ImportRecordsResource.MEASURES, dry_run=True)
check(dry.dry_run is True and dry.created == 1 and dry.rows[0].id is None, f"dry run: {dry}")
upload = File(payload=io.BytesIO(sheet.encode("utf-8")), file_name="massnahmen.csv", mime_type="text/csv")
done = import_records.sync(client=admin, body=upload, resource=ImportRecordsResource.MEASURES)
check(done.created == 1 and done.rows[0].id is not None, f"import: {done}")
imported = get_measure.sync(id=done.rows[0].id, client=admin)
check((imported.title, str(imported.planned_start)) == ("Winterdienst", "2027-03-01"), f"imported: {imported}")
print("python client scenario: ok")
