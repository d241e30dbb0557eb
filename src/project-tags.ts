/**
 * The tags every resource of a stack carries (the provider's default tags): the stack's own, which the CLI,
 * the stop rule and the cluster's roles find its resources by, and the user's. Both stacks use it.
 */
import { MANAGED_BY_TAG, OWN_TAG_KEYS } from './catalog';
import type { Config } from './config';
import { literal } from './terraform-literal';

/** The stack's own tags: Project (the config's name) and ManagedBy. */
export function ownTags(config: Config): Record<string, string> {
  return { [OWN_TAG_KEYS.project]: config.name, [OWN_TAG_KEYS.managedBy]: MANAGED_BY_TAG.value };
}

/** The own tags and the user's `tags`, whose keys and values are the user's text, never templates. */
export function projectTags(config: Config): Record<string, string> {
  const userTags = Object.fromEntries(Object.entries(config.tags).map(([key, value]) => [literal(key), literal(value)]));
  return { ...ownTags(config), ...userTags };
}
