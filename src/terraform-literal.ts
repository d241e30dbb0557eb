/**
 * Every string in Terraform JSON is a template: `${...}` interpolates and `%{...}` is a directive,
 * even inside user data or a tag value. Text that must reach AWS as written (scripts, tag values,
 * keys) goes through `literal`, which doubles the introducers so Terraform reads back exactly `text`.
 * Source: Terraform's JSON configuration syntax and string templates
 * (developer.hashicorp.com/terraform/language/syntax/json, .../expressions/strings); the
 * whole-stack engine tests check on Terraform 1.11 that the user data reads back unchanged.
 */
export function literal(text: string): string {
  return text.replace(/([$%])\{/g, (_, introducer: string) => `${introducer}${introducer}{`);
}
