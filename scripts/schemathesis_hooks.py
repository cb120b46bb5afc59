"""Request bodies for scripts/schemathesis that a JSON schema cannot describe.

The import (POST /api/v1/import) takes a file: CSV or NDJSON. Its schema is `string/binary`, so
schemathesis cannot build one by itself. These strategies give it files a user might send: rows
of plausible records (which a given `resource` may or may not accept), rows of random values, and
random bytes.
"""

import csv
import io
import json

from hypothesis import strategies as st

import schemathesis

KINDS = ["municipality", "district", "association", "advisor", "other"]
record = st.fixed_dictionaries(
    {"name": st.text(max_size=40), "kind": st.sampled_from(KINDS)},
    optional={
        "ags": st.from_regex(r"\A[0-9]{7,8}\Z"),
        "id": st.integers(min_value=-2, max_value=50),
        "title": st.text(max_size=40),
        "key": st.from_regex(r"\A[a-z][a-z0-9_-]{0,20}\Z"),
        "etag": st.text(max_size=20),
    },
)
random_record = st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=20)), max_size=6)
records = st.lists(st.one_of(record, random_record), max_size=5)


def ndjson(rows):
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def spreadsheet(rows):
    columns = sorted({column for row in rows for column in row})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or ["name"], restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# Whatever schemathesis builds for these bodies (the documented examples, random bytes) is sent
# as the bytes it is.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")
schemathesis.serializer.alias("text/csv", "application/octet-stream")


@schemathesis.hook
def flatmap_body(ctx, body):
    """The import's generated bodies: random bytes, or a CSV or NDJSON file of records (under
    either media type: a file labelled wrongly must be refused cleanly too)."""
    if ctx.operation.path != "/api/v1/import" or not isinstance(body, bytes):
        return st.just(body)
    return st.one_of(st.just(body), records.map(ndjson), records.map(spreadsheet))
