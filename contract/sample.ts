// A mini-program's use of the generated types (build/api.d.ts, made by openapi-typescript from the served
// document). `tsc --noEmit` must accept it, and each `@ts-expect-error` line must really be an error: the
// contract is precise enough to catch these mistakes at compile time.
import type { components, paths } from "./build/api";

type Schemas = components["schemas"];
type ApiError = Schemas["ApiError"];
type Reason = ApiError["status"];
type CreateBody = NonNullable<paths["/api/v1/applications"]["post"]["requestBody"]>["content"]["application/json"];
type Application =
  paths["/api/v1/applications/{application_id}"]["get"]["responses"][200]["content"]["application/json"];
type Pagination = Schemas["PaginationMetadata"];
type CreateHeaders = NonNullable<paths["/api/v1/applications"]["post"]["parameters"]["header"]>;
type UploadBody = NonNullable<
  paths["/api/v1/applications/{application_id}/attachments"]["post"]["requestBody"]
>["content"]["multipart/form-data"];

export const draft: CreateBody = {
  program: "dibao",
  residence_township_code: "360124100",
  members: [{ name: "张建国", id_number: "360124196204180118", relation: "self" }],
  incomes: [{ category: "pension", monthly_amount: "300.00", member_index: 0 }],
};

// @ts-expect-error money is a decimal string, never a number
export const moneyAsNumber: CreateBody = { program: "dibao", incomes: [{ category: "pension", monthly_amount: 300 }] };

// @ts-expect-error program is an enum
export const unknownProgram: CreateBody = { program: "no_such_program" };

export const headers: CreateHeaders = { "Idempotency-Key": "7f3e9c2a-4b1d-4e8f-9a6c-0d2b5e8f1a3c" };

export function describe(app: Application): string {
  const total = (app.incomes ?? []).reduce((sum, income) => sum + Number(income.monthly_amount ?? "0"), 0);
  return `${app.reference} ${app.status_label} 月收入${total.toFixed(2)}元`;
}

export function shouldLogInAgain(error: ApiError): boolean {
  const again: Reason[] = ["unauthenticated", "token_expired", "token_invalid", "session_revoked"];
  return error.status !== undefined && again.includes(error.status);
}

// @ts-expect-error the reasons are an enum: a typo does not compile
export const typo: Reason = "real_name_requried";

export function nextPage(header: string): number | undefined {
  const meta = JSON.parse(header) as Pagination;
  return meta.next_page;
}

export const upload: UploadBody = { material: "hukou", file: "(a File or a wx.uploadFile path)" };
