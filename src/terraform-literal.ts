/**
 * Every string in Terraform JSON is a template: `${...}` interpolates and `%{...}` is a directive,
 * even inside user data or a tag value. Text that must reach AWS as written (scripts, tag values,
 * keys) goes through `literal`, which doubles the introducers so Terraform reads back exactly `text`.
 * Source: Terraform's JSON configuration syntax, "Expression Mapping" and template escapes
 * (developer.hashicorp.com/terraform/language/syntax/json, checked 2026-12-01).
 */
export function literal(text: string): string {
  return text.replace(/([$%])\{/g, (_, introducer: string) => `${introducer}${introducer}{`);
}
