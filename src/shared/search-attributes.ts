import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes that let operators filter runs in Temporal Web UI and `temporal workflow
 * list --query "McpPipeline='recommendation' AND McpOutcome='failed'"`. The stack's dev server
 * registers them at start (`--search-attribute`); elsewhere `mcp-orch` registers them when it may and
 * leaves them out when it may not, because starting or upserting an unregistered attribute fails.
 */
export const SEARCH_ATTRIBUTES = {
  /** The pipeline's `name`. */
  pipeline: defineSearchAttributeKey('McpPipeline', SearchAttributeType.KEYWORD),
  /** `running` while it runs, then `completed`, `failed` or `cancelled`. */
  outcome: defineSearchAttributeKey('McpOutcome', SearchAttributeType.KEYWORD),
} as const;

/** `--search-attribute` flags for `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return Object.values(SEARCH_ATTRIBUTES).flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
}
