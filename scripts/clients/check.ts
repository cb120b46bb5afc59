// Compiled with `tsc --strict --noEmit` against the types openapi-typescript generates from
// openapi/openapi.json (scripts/clients/run). No casts: if the document made an always-present
// answer field optional, or a PATCH field required, this file would not compile.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

// A PATCH of one field is a complete PATCH body.
const measurePatch: Schemas["MeasurePatch"] = { summary: "Gemeinsame Ausschreibung" };
const userPatch: Schemas["UserPatch"] = { display_name: "Maria Mustermann" };
const cooperationPatch: Schemas["CooperationPatch"] = { description: "Bauhof und Feuerwehr" };
const partnerPatch: Schemas["UpdatePartner"] = { population: 4500 };

// Answers: fields that are always present are not optional (null where they may be null).
function readMeasure(m: Schemas["MeasureResponse"]): [number | null, number, string[], Schemas["MeasureStatus"]] {
  const score: number | null = m.priority_score;
  const progress: number = m.progress;
  return [score, progress, m.council_refs, m.status];
}
function readPartner(p: Schemas["PartnerResponse"]): string | null {
  const ags: string | null = p.ags;
  return ags;
}
function readPage(page: Schemas["PartnerPage"]): string | null {
  return page.next_cursor;
}
function who(me: Schemas["MeResponse"]): "user" | "service_token" | "external" {
  return me.kind;
}
// A new account can be created with a password. (openapi-typescript 7 makes a property with a
// `default` non-optional, so create bodies name `active`; PATCH schemas carry no defaults.)
const account: Schemas["CreateUser"] = {
  username: "m.mustermann",
  password: "a long enough password",
  role: "editor",
  active: true,
};
// Conditional requests are typed parameters.
type DeleteMeasureHeaders = NonNullable<paths["/api/v1/measures/{id}"]["delete"]["parameters"]["header"]>;
const stale: DeleteMeasureHeaders = { "If-Match": "\"1\"" };

export { measurePatch, userPatch, cooperationPatch, partnerPatch, readMeasure, readPartner, readPage, who, account, stale };
